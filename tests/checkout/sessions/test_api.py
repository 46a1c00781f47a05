"""``/api/v1/checkout/sessions``: create (idempotently), read the outcome."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import CheckoutSessionUnavailable, checkout_session_complete
from checkout.webhooks.models import Event
from monitoring.audit.models import AuditEvent
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


def _expire(client: APIClient, session_id: str, key: str | None = None) -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/checkout/sessions/{session_id}/expire", **headers)


def test_expiring_an_open_session_closes_its_page_audits_and_announces_it(
    keys: KeyService,
    api_client: APIClient,
    session_factory: Callable[..., CheckoutSession],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    session = session_factory()
    jwe = jwe_for(session)  # a page rendered before the expiry

    with django_capture_on_commit_callbacks(execute=True):
        response = _expire(api_client, session.pk, key="expire-1")
    replay = _expire(api_client, session.pk, key="expire-1")
    again = _expire(api_client, session.pk)

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"]) == (session.pk, "expired")
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    assert again.status_code == 409 and again.json()["code"] == "session_expired"
    audit = AuditEvent.objects.get(action="checkout.session.expire")
    assert (audit.object_id, audit.actor.startswith("api_key:")) == (session.pk, True)
    event = Event.objects.get(type="checkout.session.expired")
    assert event.object_id == session.pk
    assert json.loads(event.payload)["data"]["object"]["status"] == "expired"
    assert Event.objects.filter(type="checkout.session.expired").count() == 1
    with pytest.raises(CheckoutSessionUnavailable) as refused:
        checkout_session_complete(session_id=session.pk, nonce=session.nonce, card_jwe=jwe)
    assert refused.value.code == "session_expired"
    session.refresh_from_db()
    assert (session.status, session.token_id, session.charge_id) == ("expired", None, None)
    page = Client().get(f"/checkout/{session.pk}/")
    assert "expired" in page.content.decode().lower()


def test_only_an_open_session_can_be_expired(
    keys: KeyService, api_client: APIClient, session_factory: Callable[..., CheckoutSession]
) -> None:
    complete, busy = session_factory(), session_factory()
    checkout_session_complete(
        session_id=complete.pk, nonce=complete.nonce, card_jwe=jwe_for(complete)
    )
    CheckoutSession.objects.filter(pk=busy.pk).update(status=CheckoutSession.Status.PROCESSING)

    answers = {s.pk: _expire(api_client, s.pk) for s in (complete, busy)}

    assert answers[complete.pk].status_code == answers[busy.pk].status_code == 409
    assert answers[complete.pk].json()["code"] == "session_complete"
    assert answers[busy.pk].json()["code"] == "session_busy"
    assert CheckoutSession.objects.get(pk=complete.pk).status == "complete"
    assert not AuditEvent.objects.filter(action="checkout.session.expire").exists()


def test_another_merchants_session_cannot_be_expired(
    session_factory: Callable[..., CheckoutSession],
) -> None:
    session = session_factory()
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {IssuedKeyFactory.create().secret}")

    response = _expire(other, session.pk)

    assert response.status_code == 404
    assert CheckoutSession.objects.get(pk=session.pk).status == "open"
