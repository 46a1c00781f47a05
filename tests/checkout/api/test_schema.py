"""OpenAPI schema, local docs assets under the strict CSP, per-key throttling."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.contrib.admin.utils import quote
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from checkout.payments.models import Charge
from vault.merchants import api_key_create
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db


def test_schema_documents_every_checkout_operation(client) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {
        "charges_create",
        "charges_list",
        "charges_retrieve",
        "charges_refunds_create",
        "subscriptions_create",
        "subscriptions_list",
        "subscriptions_retrieve",
        "subscriptions_cancel",
        "merchant_retrieve",
        "customers_create",
        "customers_list",
        "customers_retrieve",
        "customers_update",
        "customers_delete",
        "customers_cards_list",
        "customers_cards_attach",
        "customers_cards_detach",
    } <= operations
    create = schema["paths"]["/api/v1/charges"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in create["parameters"]}
    assert "application/problem+json" in create["responses"]["422"]["content"]
    assert "Retry-After" in create["responses"]["503"]["description"]
    assert create["requestBody"]["content"]["application/json"]["examples"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_docs_page_uses_only_local_assets_and_no_inline_script(client) -> None:
    response = client.get("/api/docs/")
    html = response.content.decode()

    assert response.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert all("drf_spectacular_sidecar" in s or s.startswith("/api/") for s in sources)
    assert "<script>" not in html  # every script has a src: CSP script-src 'self' holds
    nonce = re.search(r'<style nonce="([^"]+)"', html)
    assert nonce and f"'nonce-{nonce.group(1)}'" in response["Content-Security-Policy"]
    for asset in (s for s in sources if s.startswith("/static/")):
        assert client.get(asset).status_code == 200, asset
    script = client.get(next(s for s in sources if "script" in s and s.startswith("/api/")))
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def test_throttle_is_per_api_key(
    merchant: Merchant, token: Token, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import checkout.api.throttling as throttling

    # One fixed moment, 20 s into a window: the test never straddles two windows.
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: 1_900_000_040.0))
    settings.API_THROTTLE_RATE = "3/minute"
    cache.clear()
    first, second = APIClient(), APIClient()
    first.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(merchant=merchant).secret}")
    second.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(merchant=merchant).secret}")
    body = {"token": token.id, "amount": 100, "currency": "EUR"}

    answers = [first.post("/api/v1/charges", body, format="json").status_code for _ in range(4)]
    other_key = second.post("/api/v1/charges", body, format="json")

    assert answers == [201, 201, 201, 429]
    assert other_key.status_code == 201
    assert Charge.objects.count() == 4
    throttled = first.get("/api/v1/charges")
    assert throttled.json()["code"] == "rate_limited"
    assert throttled["Retry-After"] == "40"


def test_admin_lists_checkout_objects_read_only(
    admin_client, merchant: Merchant, token: Token
) -> None:
    from checkout.payments.services import charge_create

    charge = charge_create(merchant=merchant, token_id=token.id, amount=100, currency="EUR")

    listing = admin_client.get("/admin/checkout/charge/")
    detail = admin_client.get(f"/admin/checkout/charge/{quote(charge.id)}/change/")
    add = admin_client.get("/admin/checkout/charge/add/")

    assert listing.status_code == 200 and charge.id in listing.content.decode()
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert add.status_code == 403
    for page in ("subscription", "refund"):
        assert admin_client.get(f"/admin/checkout/{page}/").status_code == 200


def test_schema_documents_the_vault_ingest_and_jwks_and_links_created_objects(client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    ingest = schema["paths"]["/vault/v1/cards"]["post"]
    jwks = schema["paths"]["/.well-known/jwks.json"]["get"]
    assert ingest["security"] == [] and jwks["security"] == []
    assert set(ingest["requestBody"]["content"]) == {"application/jwt"}
    assert {"201", "400", "401", "409", "413", "415", "422", "429", "503"} <= set(
        ingest["responses"]
    )
    assert set(ingest["responses"]["201"]["links"]) == {"tokens_retrieve", "tokens_revoke"}
    charge_links = schema["paths"]["/api/v1/charges"]["post"]["responses"]["201"]["links"]
    assert charge_links["charges_retrieve"]["parameters"] == {
        "path.charge_id": "$response.body#/id"
    }
    served = client.get("/.well-known/jwks.json").json()
    assert {key["use"] for key in served["keys"]} == {"sig", "enc"}


def test_jwks_answers_any_other_method_with_405() -> None:
    client = Client(enforce_csrf_checks=True)  # as a real client meets the CSRF middleware
    for method in ("POST", "PUT", "DELETE", "QUERY"):
        assert client.generic(method, "/.well-known/jwks.json").status_code == 405, method
