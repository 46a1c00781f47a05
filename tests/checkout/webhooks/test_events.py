"""Events: recorded once the change they report is committed (real commits here, so the
domain events are heard as in production), with the object exactly as the API shows it, for
every change merchants need; and ``/api/v1/events``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from checkout.billing.models import Subscription
from checkout.billing.services import (
    subscription_bill,
    subscription_cancel,
    subscription_create,
)
from checkout.payments.models import Charge
from checkout.payments.services import charge_create, refund_create
from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import checkout_session_complete
from checkout.sessions.transport import card_encrypt
from checkout.webhooks.events import event_record
from checkout.webhooks.models import Event, EventType, WebhookDelivery
from tests.checkout.conftest import DECLINES
from tests.checkout.webhooks.conftest import Hooked, SimClock
from tests.factories import CheckoutSessionFactory, MerchantFactory, TokenFactory
from vault.models import Merchant, Token
from vault.services import token_revoke

pytestmark = pytest.mark.django_db(transaction=True)


def _events(merchant: Merchant) -> list[tuple[str, str]]:
    return [
        (e.type, e.object_id)
        for e in Event.objects.filter(merchant=merchant).order_by("created_at", "id")
    ]


def _document(event: Event) -> dict:
    return json.loads(event.payload)


def test_a_charge_writes_charge_succeeded_with_the_charge_as_the_api_shows_it(
    merchant: Merchant, token: Token, api_client: APIClient
) -> None:
    charge = charge_create(merchant=merchant, token_id=token.id, amount=1999, currency="EUR")

    event = Event.objects.get(type="charge.succeeded")
    document = _document(event)
    assert event.id.startswith("evt_") and document["id"] == event.id
    assert document["object"] == "event"
    assert document["api_version"] == "v1"
    assert document["type"] == "charge.succeeded"
    assert document["data"]["object"] == api_client.get(f"/api/v1/charges/{charge.id}").json()
    assert list(document) == ["id", "object", "type", "api_version", "created", "livemode", "data"]
    assert document["livemode"] is False


@pytest.mark.parametrize("number", ["4242424242424242", DECLINES["insufficient_funds"]])
def test_a_charge_over_the_api_shows_in_its_event_as_it_answered_and_as_it_reads_back(
    merchant: Merchant, api_client: APIClient, number: str
) -> None:
    token = TokenFactory.create(merchant=merchant, number=number)
    body = {
        "token": token.id,
        "amount": 1999,
        "currency": "eur",
        "description": "Order #1042",
        "metadata": {"order_id": "1042", "a": "b"},
    }

    answer = api_client.post("/api/v1/charges", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert answer.status_code == 201, answer.content
    event = Event.objects.get(object_id=answer.json()["id"])
    shown = _document(event)["data"]["object"]
    assert shown == answer.json() == api_client.get(f"/api/v1/charges/{shown['id']}").json()
    assert event.type == f"charge.{answer.json()['status']}"


def test_a_declined_charge_writes_charge_failed(merchant: Merchant) -> None:
    token = TokenFactory.create(merchant=merchant, number=DECLINES["insufficient_funds"])

    charge = charge_create(merchant=merchant, token_id=token.id, amount=500, currency="USD")

    document = _document(Event.objects.get(type="charge.failed"))
    assert document["data"]["object"]["id"] == charge.id
    assert document["data"]["object"]["failure_code"] == "insufficient_funds"


def test_a_refund_writes_refund_succeeded_and_charge_refunded(
    merchant: Merchant, token: Token, api_client: APIClient
) -> None:
    charge = charge_create(merchant=merchant, token_id=token.id, amount=1000, currency="EUR")

    refund = refund_create(merchant=merchant, charge_id=charge.id, amount=400)

    assert sorted(_events(merchant)[-2:]) == [
        ("charge.refunded", charge.id),
        ("refund.succeeded", refund.id),
    ]
    refunded = _document(Event.objects.get(type="charge.refunded"))["data"]["object"]
    assert refunded == api_client.get(f"/api/v1/charges/{charge.id}").json()
    assert refunded["amount_refunded"] == 400
    assert _document(Event.objects.get(type="refund.succeeded"))["data"]["object"]["amount"] == 400


class NewEvents:
    """The types of the events written since the last call (one step of a scenario; events
    of one transaction share their instant, so each step's are compared as a sorted list)."""

    def __init__(self, merchant: Merchant) -> None:
        self.merchant = merchant
        self.seen: set[str] = set()

    def __call__(self) -> list[str]:
        fresh = Event.objects.filter(merchant=self.merchant).exclude(pk__in=self.seen)
        self.seen |= {e.pk for e in fresh}
        return sorted(e.type for e in fresh)


def test_a_subscription_lifecycle_writes_created_renewed_past_due_and_canceled(
    merchant: Merchant, token: Token, clock: SimClock, api_client: APIClient
) -> None:
    new_events = NewEvents(merchant)
    # given a monthly subscription…
    subscription = subscription_create(
        merchant=merchant, token_id=token.id, amount=900, currency="EUR", interval="month"
    )
    # …billed for period 0 as soon as it is committed, and renewed for period 1
    assert new_events() == ["charge.succeeded", "subscription.created", "subscription.renewed"]
    subscription.refresh_from_db()
    subscription_bill(subscription_id=subscription.id, now=subscription.next_billing_at)
    assert new_events() == ["charge.succeeded", "subscription.renewed"]
    # when the token is revoked (the next renewal will fail) and the subscription canceled
    token_revoke(token=token, actor="test", reason="customer asked")
    assert new_events() == ["subscription.past_due", "token.revoked"]
    subscription_cancel(merchant=merchant, subscription_id=subscription.id)
    assert new_events() == ["subscription.canceled"]

    # then each snapshot is the object as the API shows it
    canceled = _document(Event.objects.get(type="subscription.canceled"))["data"]["object"]
    listed = api_client.get("/api/v1/subscriptions").json()["data"][0]
    assert canceled == listed
    revoked = _document(Event.objects.get(type="token.revoked"))["data"]["object"]
    assert revoked == api_client.get(f"/api/v1/tokens/{token.id}").json()
    assert revoked["status"] == "revoked"
    assert set(revoked) == {
        "id", "object", "livemode", "brand", "last4", "exp_month", "exp_year", "fingerprint",
        "status", "expired", "created", "last_used_at", "revoked_at",
    }  # fmt: skip


def test_a_failed_renewal_writes_charge_failed_and_subscription_past_due(
    merchant: Merchant, clock: SimClock
) -> None:
    token = TokenFactory.create(merchant=merchant, number=DECLINES["card_declined"])
    subscription = subscription_create(
        merchant=merchant, token_id=token.id, amount=900, currency="EUR", interval="week"
    )

    subscription_bill(subscription_id=subscription.id, now=clock.now)

    past_due = _document(Event.objects.get(type="subscription.past_due"))["data"]["object"]
    assert past_due["status"] == "past_due"
    assert past_due["status_reason"] == "card_declined"
    assert Event.objects.filter(type="charge.failed").count() == 1


def test_a_completed_checkout_session_writes_checkout_session_completed(
    merchant: Merchant, api_client: APIClient
) -> None:
    session = CheckoutSessionFactory.create(merchant=merchant, amount=2500)
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    jwe = card_encrypt(card, session_id=session.pk, nonce=session.nonce)

    checkout_session_complete(session_id=session.pk, nonce=session.nonce, card_jwe=jwe)

    event = Event.objects.get(type="checkout.session.completed")
    completed = _document(event)["data"]["object"]
    assert completed["id"] == session.pk
    assert completed["status"] == "complete"
    assert completed["payment_status"] == "paid"
    answer = api_client.get(f"/api/v1/checkout/sessions/{session.pk}").json()
    # The API answers an absolute page URL (it knows the request's host); the event, written
    # without a request, carries its path. Everything else is identical.
    assert answer["url"].endswith(completed["url"])
    assert {k: v for k, v in completed.items() if k != "url"} == {
        k: v for k, v in answer.items() if k != "url"
    }
    assert CheckoutSession.objects.get(pk=session.pk).charge_id == completed["charge"]


def test_an_event_exists_only_if_its_change_committed(merchant: Merchant, token: Token) -> None:
    # given a change whose transaction rolls back: its event is not even written before
    written = []

    def change_then_fail() -> None:
        with transaction.atomic():
            subscription_create(
                merchant=merchant, token_id=token.id, amount=900, currency="EUR", interval="month"
            )
            written.append(Event.objects.filter(type="subscription.created").count())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert written == [0]

    # then neither the subscription nor its event exists
    assert not Subscription.objects.exists()
    assert not Event.objects.exists()


def test_deliveries_are_queued_only_for_enabled_endpoints_that_want_the_type(
    hooked: Hooked, merchant: Merchant, token: Token
) -> None:
    from checkout.webhooks.services import webhook_endpoint_create

    charges_only, _ = webhook_endpoint_create(
        merchant=merchant, url=hooked.receiver.url, enabled_events=["charge.succeeded"]
    )
    other = MerchantFactory.create(name="Elsewhere")
    webhook_endpoint_create(merchant=other, url=hooked.receiver.url, enabled_events=["*"])

    charge_create(merchant=merchant, token_id=token.id, amount=100, currency="EUR")
    token_revoke(token=token, actor="test", reason="gone")

    deliveries = {
        (d.event.type, d.endpoint_id) for d in WebhookDelivery.objects.select_related("event")
    }
    assert deliveries == {
        ("charge.succeeded", hooked.endpoint.pk),
        ("charge.succeeded", charges_only.pk),
        ("token.revoked", hooked.endpoint.pk),
    }


# --- /api/v1/events ---------------------------------------------------------------------------


@pytest.fixture
def many_events(merchant: Merchant, token: Token, clock: SimClock) -> list[Event]:
    events = []
    for index in range(5):
        clock.advance(seconds=1)
        charge = charge_create(
            merchant=merchant, token_id=token.id, amount=100 + index, currency="EUR"
        )
        events.append(Event.objects.get(object_id=charge.id))
    clock.advance(seconds=1)
    token_revoke(token=token, actor="test", reason="done")
    events.append(Event.objects.get(type="token.revoked"))
    return events


def test_events_are_listed_newest_first_in_pages(
    api_client: APIClient, many_events: list[Event]
) -> None:
    first = api_client.get("/api/v1/events", {"limit": 4}).json()
    second = api_client.get(
        "/api/v1/events", {"limit": 4, "starting_after": first["data"][-1]["id"]}
    ).json()

    newest_first = [e.id for e in reversed(many_events)]
    assert first["object"] == "list"
    assert [e["id"] for e in first["data"]] == newest_first[:4]
    assert first["has_more"] is True
    assert [e["id"] for e in second["data"]] == newest_first[4:]
    assert second["has_more"] is False
    assert first["data"][0] == json.loads(many_events[-1].payload)


def test_events_filter_by_type_group_and_object(
    api_client: APIClient, many_events: list[Event], token: Token
) -> None:
    exact = api_client.get("/api/v1/events", {"type": "token.revoked"}).json()["data"]
    group = api_client.get("/api/v1/events", {"type": "charge.*"}).json()["data"]
    about = api_client.get("/api/v1/events", {"object": many_events[0].object_id}).json()["data"]
    unknown = api_client.get("/api/v1/events", {"type": "charge.exploded"})

    assert [e["id"] for e in exact] == [many_events[-1].id]
    assert len(group) == 5 and {e["type"] for e in group} == {"charge.succeeded"}
    assert [e["id"] for e in about] == [many_events[0].id]
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "type"


def test_an_event_is_read_by_id_and_other_merchants_events_are_not_found(
    api_client: APIClient, many_events: list[Event]
) -> None:
    event = many_events[2]
    other = MerchantFactory.create(name="Other")
    other_token = TokenFactory.create(merchant=other)
    charge_create(merchant=other, token_id=other_token.id, amount=100, currency="EUR")
    theirs = Event.objects.get(merchant=other)

    mine = api_client.get(f"/api/v1/events/{event.id}")
    not_mine = api_client.get(f"/api/v1/events/{theirs.id}")
    listed = api_client.get("/api/v1/events", {"limit": 100}).json()["data"]

    assert mine.status_code == 200 and mine.json() == json.loads(event.payload)
    assert not_mine.status_code == 404 and not_mine.json()["code"] == "event_not_found"
    assert theirs.id not in {e["id"] for e in listed}


def test_event_record_refuses_an_unknown_type(merchant: Merchant, token: Token) -> None:
    with pytest.raises(ValueError, match=r"charge\.exploded"):
        event_record(event_type="charge.exploded", obj=token)
    assert not Event.objects.exists()


def test_a_charge_event_is_the_charge_as_charged(merchant: Merchant, token: Token) -> None:
    charge = charge_create(merchant=merchant, token_id=token.id, amount=777, currency="JPY")

    snapshot = _document(Event.objects.get(object_id=charge.id))["data"]["object"]

    assert snapshot["amount"] == 777 and snapshot["currency"] == "JPY"
    assert snapshot["token"] == token.id
    assert Charge.objects.get(pk=charge.id).status == snapshot["status"] == "succeeded"


def test_the_readme_events_table_lists_every_event_type() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    table = readme.split("## Webhooks", 1)[1].split("```json", 1)[0]
    listed = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", table))
    assert set(EventType.values) <= listed
