"""``/api/v1/checkout/sessions``: create (idempotently), read the outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from rest_framework.test import APIClient

from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import checkout_session_complete
from tests.checkout.sessions.conftest import VISA, jwe_for
from tests.factories import IssuedKeyFactory
from vault.keys import KeyService
from vault.models import Merchant

pytestmark = pytest.mark.django_db

BODY = {
    "mode": "payment",
    "amount": 1999,
    "currency": "eur",
    "success_url": "https://shop.example/thanks",
    "cancel_url": "https://shop.example/cart",
    "customer_reference": "customer-77",
}


def test_creating_a_session_answers_its_id_url_and_expiry(api_client: APIClient) -> None:
    response = api_client.post("/api/v1/checkout/sessions", BODY, format="json")

    body = response.json()
    assert response.status_code == 201
    assert body["id"].startswith("cs_")
    assert body["url"] == f"http://testserver/checkout/{body['id']}/"
    assert response["Location"] == body["url"]
    created = datetime.fromisoformat(body["created"])
    assert datetime.fromisoformat(body["expires_at"]) - created == timedelta(minutes=30)
    assert (body["status"], body["payment_status"], body["currency"]) == ("open", "unpaid", "EUR")
    assert (body["token"], body["charge"], body["subscription"]) == (None, None, None)


def test_the_same_idempotency_key_replays_the_first_session(
    api_client: APIClient, merchant: Merchant
) -> None:
    url = "/api/v1/checkout/sessions"
    key = "order-42"

    first = api_client.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = api_client.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY=key)
    changed = api_client.post(
        url, {**BODY, "amount": 2999}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert changed.status_code == 422 and changed.json()["code"] == "idempotency_key_reused"
    assert CheckoutSession.objects.filter(merchant=merchant).count() == 1


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"success_url": "javascript:alert(1)"}, "success_url", "invalid_url_scheme"),
        ({"cancel_url": "not a url"}, "cancel_url", "invalid_url"),
        ({"mode": "subscription"}, "interval", "missing_field"),
        ({"amount": 0}, "amount", "min_value"),
        ({"mode": "gift"}, "mode", "invalid_choice"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(
    api_client: APIClient, merchant: Merchant, change: dict, field: str, code: str
) -> None:
    response = api_client.post("/api/v1/checkout/sessions", {**BODY, **change}, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert (field, code) in [(e["field"], e["code"]) for e in response.json()["errors"]]
    assert not CheckoutSession.objects.filter(merchant=merchant).exists()


def test_a_setup_session_needs_no_amount(api_client: APIClient) -> None:
    body = {k: v for k, v in BODY.items() if k not in ("amount", "currency")}

    response = api_client.post(
        "/api/v1/checkout/sessions", {**body, "mode": "setup"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["payment_status"] == "no_payment_required"


def test_sessions_need_an_api_key(merchant: Merchant) -> None:
    response = APIClient().post("/api/v1/checkout/sessions", BODY, format="json")

    assert response.status_code == 401
    assert not CheckoutSession.objects.exists()


def test_the_outcome_names_the_token_and_charge(
    keys: KeyService, api_client: APIClient, session_factory: Callable[..., CheckoutSession]
) -> None:
    session = session_factory()
    checkout_session_complete(session_id=session.pk, nonce=session.nonce, card_jwe=jwe_for(session))

    body = api_client.get(f"/api/v1/checkout/sessions/{session.pk}").json()

    session.refresh_from_db()
    assert (body["status"], body["payment_status"]) == ("complete", "paid")
    assert body["token"] == session.token_id and body["charge"] == session.charge_id
    assert body["attempts"] == 1 and body["completed_at"] is not None
    assert VISA not in str(body)


def test_another_merchants_session_is_not_found(
    session_factory: Callable[..., CheckoutSession],
) -> None:
    session = session_factory()
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {IssuedKeyFactory.create().secret}")

    response = other.get(f"/api/v1/checkout/sessions/{session.pk}")

    assert response.status_code == 404
    assert response.json()["code"] == "checkout_session_not_found"


def test_the_list_shows_an_open_session_past_its_expiry_as_expired(
    api_client: APIClient, session_factory: Callable[..., CheckoutSession]
) -> None:
    lapsed, fresh = session_factory(), session_factory(mode=CheckoutSession.Mode.SETUP)
    CheckoutSession.objects.filter(pk=lapsed.pk).update(
        created_at=lapsed.created_at - timedelta(hours=2),
        expires_at=lapsed.created_at - timedelta(hours=1),
    )

    listed = api_client.get("/api/v1/checkout/sessions").json()
    expired = api_client.get("/api/v1/checkout/sessions", {"status": "expired"}).json()
    setups = api_client.get("/api/v1/checkout/sessions", {"mode": "setup"}).json()

    assert [(s["id"], s["status"]) for s in listed["data"]] == [
        (fresh.pk, "open"),
        (lapsed.pk, "expired"),
    ]
    assert [s["id"] for s in expired["data"]] == [lapsed.pk]
    assert [s["id"] for s in setups["data"]] == [fresh.pk]
    assert listed["data"][0]["url"] == f"http://testserver/checkout/{fresh.pk}/"
