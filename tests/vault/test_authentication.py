"""Merchant API keys: Bearer authentication, hashing at rest, revocation."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from monitoring.audit.models import AuditEvent
from vault.merchants import IssuedKey, api_key_revoke
from vault.models import ApiKey, Merchant

pytestmark = pytest.mark.django_db
URL = "/api/v1/merchant"


def _assert_problem_401(response: object) -> dict[str, object]:
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/problem+json"  # type: ignore[index]
    assert response["WWW-Authenticate"] == 'Bearer realm="tessera"'  # type: ignore[index]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == 401
    assert set(body) >= {"type", "title", "status", "detail"}
    return body


def test_valid_key_authenticates_and_names_its_merchant(
    api_client: APIClient, merchant: Merchant
) -> None:
    response = api_client.get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": merchant.id,
        "name": "Acme Books",
        "mode": "test",
        "livemode": False,
    }


def test_missing_header_gets_401_problem() -> None:
    body = _assert_problem_401(APIClient().get(URL))

    assert body["code"] == "authentication_required"


def test_unknown_key_gets_401_problem(issued_key: IssuedKey) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer sk_test_" + "A" * 43)

    body = _assert_problem_401(client.get(URL))

    assert body["code"] == "authentication_failed"


def test_wrong_scheme_gets_401_problem(issued_key: IssuedKey) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {issued_key.secret}")

    _assert_problem_401(client.get(URL))


def test_revoked_key_gets_401_problem_and_is_audited(
    api_client: APIClient, issued_key: IssuedKey
) -> None:
    api_key_revoke(api_key=issued_key.api_key, actor="admin:ops")

    _assert_problem_401(api_client.get(URL))
    assert AuditEvent.objects.filter(
        action="api_key.revoke", object_id=issued_key.api_key.id
    ).exists()


def test_database_holds_the_hash_never_the_key(issued_key: IssuedKey) -> None:
    row = ApiKey.objects.get(pk=issued_key.api_key.pk)

    assert row.secret_hash == hashlib.sha256(issued_key.secret.encode()).hexdigest()
    assert issued_key.secret.startswith("sk_test_")
    assert len(issued_key.secret) - len("sk_test_") >= 33  # ≥192 bits in base62
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM vault_apikey")
        dumped = repr(cursor.fetchall())
    assert issued_key.secret not in dumped
    assert issued_key.secret[12:] not in dumped


def test_last_used_is_recorded(api_client: APIClient, issued_key: IssuedKey) -> None:
    assert issued_key.api_key.last_used_at is None

    api_client.get(URL)

    assert ApiKey.objects.get(pk=issued_key.api_key.pk).last_used_at is not None


def test_keys_are_unique_and_random(merchant: Merchant) -> None:
    from vault.merchants import api_key_create

    secrets_ = {api_key_create(merchant=merchant).secret for _ in range(20)}

    assert len(secrets_) == 20


def test_create_merchant_command_prints_id_and_working_key() -> None:
    out = io.StringIO()

    call_command("create_merchant", "Bookshop", stdout=out)

    lines = dict(line.split("=", 1) for line in out.getvalue().split())
    assert lines["merchant_id"].startswith("mer_")
    assert lines["api_key"].startswith("sk_test_")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {lines['api_key']}")
    assert client.get(URL).json()["id"] == lines["merchant_id"]


def test_bootstrap_demo_prints_secrets_only_once() -> None:
    first, second = io.StringIO(), io.StringIO()

    call_command("bootstrap_demo", stdout=first)
    call_command("bootstrap_demo", stdout=second)

    assert "password=" in first.getvalue() and "api_key=sk_test_" in first.getvalue()
    assert "password=" not in second.getvalue() and "sk_test_" not in second.getvalue()
    assert Merchant.objects.filter(name="Demo Store").count() == 1
