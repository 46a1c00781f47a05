"""Subscriptions: schedule, clamping, dunning, cancel, token revocation, billing passes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from checkout.billing.events import (
    SubscriptionCanceled,
    SubscriptionCreated,
    SubscriptionPastDue,
    SubscriptionRenewed,
    SubscriptionUpdated,
)
from checkout.billing.models import Subscription
from checkout.billing.services import (
    subscription_bill,
    subscription_cancel,
    subscription_charges_reconcile,
    subscription_create,
    subscriptions_due,
)
from checkout.payments.events import ChargeFailed, ChargeSucceeded
from checkout.payments.models import Charge
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.tasks import billing_enqueue_due
from tests.checkout.conftest import DECLINES, at
from tests.checkout.events import failing_listener, heard
from tests.factories import TokenFactory
from vault.models import Merchant, Token
from vault.services import token_revoke

pytestmark = pytest.mark.django_db

SUBSCRIPTION_EVENTS = (
    SubscriptionCreated,
    SubscriptionUpdated,
    SubscriptionRenewed,
    SubscriptionPastDue,
    SubscriptionCanceled,
)


def bill_until(subscription: Subscription, until: datetime) -> list[Charge]:
    """Run billing passes at each due time up to ``until``; the charges made, in order."""
    made: list[Charge] = []
    while True:
        subscription.refresh_from_db()
        due = subscription.next_billing_at
        if due is None or due > until:
            return made
        charge = subscription_bill(subscription_id=subscription.id, now=due)
        if charge is None:  # canceled at period end
            subscription.refresh_from_db()
            assert subscription.status == "canceled"
            return made
        made.append(charge)


def new(merchant: Merchant, token: Token, **kwargs: object) -> Subscription:
    fields: dict[str, object] = {
        "amount": 900,
        "currency": "EUR",
        "interval": "month",
        "start": at("2027-01-31"),
    }
    fields.update(kwargs)
    return subscription_create(merchant=merchant, token_id=token.id, now=at("2027-01-30"), **fields)  # type: ignore[arg-type]


def test_monthly_billing_keeps_the_31st_through_february(merchant: Merchant, token: Token) -> None:
    subscription = new(merchant, token)

    charges = bill_until(subscription, at("2027-06-01"))

    assert [c.created_at.date().isoformat() for c in charges] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
        "2027-05-31",
    ]
    assert [c.period for c in charges] == [0, 1, 2, 3, 4]
    assert all(c.status == "succeeded" and c.attempt == 1 for c in charges)
    subscription.refresh_from_db()
    assert (subscription.status, subscription.next_billing_at) == ("active", at("2027-06-30"))


def test_billing_twice_at_the_same_time_charges_once(merchant: Merchant, token: Token) -> None:
    subscription = new(merchant, token)

    first = subscription_bill(subscription_id=subscription.id, now=at("2027-01-31"))
    second = subscription_bill(subscription_id=subscription.id, now=at("2027-01-31"))

    assert first is not None and second is None
    assert Charge.objects.count() == SandboxLedgerEntry.objects.count() == 1


def test_a_renewal_claims_in_one_query_and_reads_its_token_with_it(
    merchant: Merchant, token: Token
) -> None:
    subscription = new(merchant, token)
    subscription_bill(subscription_id=subscription.id, now=at("2027-01-31"))  # warm caches

    with CaptureQueriesContext(connection) as queries:
        charge = subscription_bill(subscription_id=subscription.id, now=at("2027-02-28"))

    assert charge is not None and charge.status == "succeeded"
    sql = [q["sql"] for q in queries.captured_queries]
    claims = [q for q in sql if q.startswith("SELECT") and 'FROM "checkout_subscription"' in q]
    assert 'JOIN "vault_token"' in claims[0]  # the token rides in the claim
    # the only other read of the token is the vault's, revealing the card for the processor
    assert len([q for q in sql if 'FROM "vault_token"' in q]) == 1


def test_not_due_yet_is_not_billed(merchant: Merchant, token: Token) -> None:
    subscription = new(merchant, token)
    assert subscription_bill(subscription_id=subscription.id, now=at("2027-01-30")) is None
    assert subscriptions_due(now=at("2027-01-30")) == []
    assert subscriptions_due(now=at("2027-01-31")) == [subscription.id]


def test_failed_renewal_runs_dunning_then_cancels(
    merchant: Merchant, token_factory: Callable[..., Token]
) -> None:
    token = token_factory(number=DECLINES["insufficient_funds"])
    subscription = new(merchant, token)

    charges = bill_until(subscription, at("2027-03-01"))

    assert [(c.created_at.date().isoformat(), c.attempt) for c in charges] == [
        ("2027-01-31", 1),
        ("2027-02-01", 2),
        ("2027-02-03", 3),
        ("2027-02-05", 4),
    ]
    assert {c.failure_code for c in charges} == {"insufficient_funds"}
    subscription.refresh_from_db()
    assert subscription.status == "canceled"
    assert subscription.status_reason == "insufficient_funds"
    assert subscription.canceled_at == at("2027-02-05")


def test_past_due_while_retrying_and_active_again_after_a_successful_retry(
    merchant: Merchant, token: Token, processor_fault: Callable[[str], None]
) -> None:
    subscription = new(merchant, token)
    processor_fault("connection_error")
    subscription_bill(subscription_id=subscription.id, now=at("2027-01-31"))
    subscription.refresh_from_db()
    assert (subscription.status, subscription.status_reason) == (
        "past_due",
        "processor_unavailable",
    )
    assert subscription.next_billing_at == at("2027-02-01")

    processor_fault("")
    retry = subscription_bill(subscription_id=subscription.id, now=at("2027-02-01"))

    subscription.refresh_from_db()
    assert retry is not None and (retry.status, retry.attempt, retry.period) == ("succeeded", 2, 0)
    assert (subscription.status, subscription.period) == ("active", 1)
    # The next period keeps the anchor: 28 Feb, not a month after the retry.
    assert subscription.next_billing_at == at("2027-02-28")


def test_revoked_token_moves_subscriptions_to_past_due_with_a_reason(
    merchant: Merchant, token: Token, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    subscription = new(merchant, token)
    bill_until(subscription, at("2027-02-01"))

    with django_capture_on_commit_callbacks(execute=True):  # billing hears it after commit
        token_revoke(token=token, actor="test", reason="card lost")
    subscription.refresh_from_db()
    assert (subscription.status, subscription.status_reason) == ("past_due", "token_revoked")

    attempts = bill_until(subscription, at("2027-04-01"))

    assert [(a.status, a.failure_code) for a in attempts] == [("failed", "token_revoked")] * 4
    assert SandboxLedgerEntry.objects.count() == 1  # only the January charge reached the processor
    subscription.refresh_from_db()
    assert (subscription.status, subscription.status_reason) == ("canceled", "token_revoked")


def test_cancel_at_period_end_stops_the_next_renewal(merchant: Merchant, token: Token) -> None:
    subscription = new(merchant, token)
    bill_until(subscription, at("2027-02-01"))

    subscription_cancel(merchant=merchant, subscription_id=subscription.id, at_period_end=True)
    more = bill_until(subscription, at("2027-12-31"))

    subscription.refresh_from_db()
    assert more == []
    assert (subscription.status, subscription.canceled_at) == ("canceled", at("2027-02-28"))


def test_run_billing_command_bills_what_is_due(merchant: Merchant, token: Token) -> None:
    subscription = new(merchant, token, interval="week")

    call_command("run_billing", "--now=2027-02-14T00:00:00+00:00", stdout=open("/dev/null", "w"))  # noqa: SIM115

    # One pass bills the one due attempt: period 0 on 31 Jan; period 1 (7 Feb) next pass.
    assert Charge.objects.filter(subscription=subscription).count() == 1
    call_command("run_billing", "--now=2027-02-14T00:00:00+00:00", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("run_billing", "--now=2027-02-14T00:00:00+00:00", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert sorted(p or 0 for p in Charge.objects.values_list("period", flat=True)) == [0, 1, 2]


def test_enqueue_task_runs_inline_without_a_broker(merchant: Merchant, token: Token) -> None:
    from payments_site.celery import app

    assert app.conf.task_always_eager is True
    subscription = new(merchant, token)

    enqueued = billing_enqueue_due.delay("2027-01-31T00:00:00+00:00").get()

    assert enqueued == 1
    assert Charge.objects.get().subscription_id == subscription.id


def test_a_broker_outage_after_commit_keeps_the_subscription_and_the_beat_bills_it(
    merchant: Merchant,
    token: Token,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    from kombu.exceptions import OperationalError

    from checkout.tasks import bill_subscription

    def broker_down(*args: object) -> None:
        raise OperationalError("Error 111 connecting to broker. Connection refused.")

    with monkeypatch.context() as patch:
        patch.setattr(bill_subscription, "delay", broker_down)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            subscription = subscription_create(
                merchant=merchant,
                token_id=token.id,
                amount=900,
                currency="EUR",
                interval="month",
                start=at("2027-01-31"),
                now=at("2027-01-31"),
            )

    # period 0 was due at once: its hand-off failed after the commit, and was logged
    assert len(callbacks) == 1
    assert Subscription.objects.filter(pk=subscription.pk).exists()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "subscription_enqueue_failed"
    ]
    assert not Charge.objects.exists()
    # and the beat's next pass, with the broker back, bills it
    assert billing_enqueue_due.delay("2027-01-31T00:01:00+00:00").get() == 1
    assert Charge.objects.get().subscription_id == subscription.id


# --- API -----------------------------------------------------------------------------------


def test_api_create_list_detail_cancel(api_client: APIClient, token: Token) -> None:
    created = api_client.post(
        "/api/v1/subscriptions",
        {
            "token": token.id,
            "amount": 1500,
            "currency": "usd",
            "interval": "month",
            "start": "2031-01-31T00:00:00Z",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="sub-1",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("sub_")
    assert (body["status"], body["currency"], body["next_billing_at"]) == (
        "active",
        "USD",
        "2031-01-31T00:00:00Z",
    )
    assert (body["current_period_start"], body["current_period_end"]) == (
        "2031-01-31T00:00:00Z",
        "2031-02-28T00:00:00Z",
    )

    listed = api_client.get("/api/v1/subscriptions").json()["data"]
    detail = api_client.get(f"/api/v1/subscriptions/{body['id']}").json()
    canceled = api_client.delete(f"/api/v1/subscriptions/{body['id']}?at_period_end=true").json()
    now_canceled = api_client.delete(f"/api/v1/subscriptions/{body['id']}").json()

    assert [s["id"] for s in listed] == [body["id"]]
    assert detail["charges"] == []
    assert canceled["cancel_at_period_end"] is True and canceled["status"] == "active"
    assert now_canceled["status"] == "canceled" and now_canceled["status_reason"] == "requested"


def test_api_starting_now_bills_the_first_period_on_commit(
    api_client: APIClient, token: Token, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post(
            "/api/v1/subscriptions",
            {"token": token.id, "amount": 700, "currency": "EUR", "interval": "week"},
            format="json",
        ).json()

    detail = api_client.get(f"/api/v1/subscriptions/{created['id']}").json()
    assert [c["status"] for c in detail["charges"]] == ["succeeded"]
    assert detail["charges"][0]["subscription"] == created["id"]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"interval": "fortnight"}, "interval", "invalid_choice"),
        ({"interval": "month", "interval_count": 13}, "interval_count", "invalid_interval_count"),
        ({"interval": "day", "interval_count": 0}, "interval_count", "min_value"),
        ({"interval": "month", "start": "2001-01-01T00:00:00Z"}, "start", "start_in_past"),
    ],
)
def test_api_bad_schedules_are_400(
    api_client: APIClient, token: Token, body: dict[str, object], field: str, code: str
) -> None:
    response = api_client.post(
        "/api/v1/subscriptions",
        {"token": token.id, "amount": 100, "currency": "EUR", **body},
        format="json",
    )

    assert response.status_code == 400
    assert (field, code) in {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert Subscription.objects.count() == 0


def test_api_subscription_on_revoked_token_is_refused(api_client: APIClient, token: Token) -> None:
    token_revoke(token=token, actor="test", reason="x")
    response = api_client.post(
        "/api/v1/subscriptions",
        {"token": token.id, "amount": 100, "currency": "EUR", "interval": "year"},
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "token_revoked"


def test_api_other_merchants_subscription_is_404(
    api_client: APIClient, other_merchant: Merchant
) -> None:

    theirs = subscription_create(
        merchant=other_merchant,
        token_id=TokenFactory.create(merchant=other_merchant).id,
        amount=1,
        currency="EUR",
        interval="day",
        start=at("2031-01-01"),
    )
    assert api_client.get(f"/api/v1/subscriptions/{theirs.id}").status_code == 404
    assert api_client.delete(f"/api/v1/subscriptions/{theirs.id}").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "active"


def test_schedule_start_in_the_future_is_not_billed_now(merchant: Merchant, token: Token) -> None:
    subscription = new(merchant, token, start=at("2027-03-01") + timedelta(hours=5))
    assert subscription.next_billing_at == at("2027-03-01T05:00:00")
    assert Charge.objects.count() == 0


def test_sandbox_token_command_picks_a_test_card_by_outcome(merchant: Merchant, settings) -> None:
    import io

    from django.core.management.base import CommandError

    out = io.StringIO()
    call_command("sandbox_token", "--merchant", merchant.id, "--outcome", "lost_card", stdout=out)
    token = Token.objects.get(pk=out.getvalue().strip())
    assert (token.merchant_id, token.last4) == (merchant.id, DECLINES["lost_card"][-4:])

    settings.PROCESSOR_BACKEND = "some.live.Processor"
    with pytest.raises(CommandError, match="sandbox processor only"):
        call_command("sandbox_token", "--merchant", merchant.id, stdout=out)


@pytest.mark.django_db(transaction=True)
def test_events_are_published_once_each_change_commits(
    merchant: Merchant, token_factory: Callable[..., Token]
) -> None:
    token = token_factory()
    poor = token_factory(number=DECLINES["card_declined"])
    with heard(*SUBSCRIPTION_EVENTS, ChargeSucceeded, ChargeFailed) as events:
        good = new(merchant, token)
        bad = new(merchant, poor)
        bill_until(good, at("2027-01-31"))
        bill_until(bad, at("2027-01-31"))
        token_revoke(token=token, actor="test", reason="lost")

    assert [type(e) for e in events] == [
        SubscriptionCreated,
        SubscriptionCreated,
        ChargeSucceeded,
        SubscriptionRenewed,
        ChargeFailed,
        SubscriptionPastDue,
        SubscriptionPastDue,  # the revoked token's subscription, heard from the vault's event
    ]
    assert events[-1] == SubscriptionPastDue(subscription_id=good.id, merchant_id=merchant.id)


def test_a_rolled_back_change_is_never_announced(
    merchant: Merchant, token: Token, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    def create_then_fail() -> None:
        with transaction.atomic():
            new(merchant, token)
            raise RuntimeError("rolled back")

    with (
        heard(SubscriptionCreated) as events,
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
    ):
        create_then_fail()

    assert events == []
    assert Subscription.objects.count() == 0


def test_a_failing_listener_cannot_undo_the_change_it_hears_of(
    merchant: Merchant,
    token: Token,
    django_capture_on_commit_callbacks: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        failing_listener(SubscriptionCreated),
        heard(SubscriptionCreated) as events,
        django_capture_on_commit_callbacks(execute=True),
    ):
        subscription = new(merchant, token)

    assert Subscription.objects.get().pk == subscription.pk
    assert [type(e) for e in events] == [SubscriptionCreated]  # the next listener still ran
    assert any(r.message == "event_handler_failed" for r in caplog.records)


def test_a_stopped_renewal_leaves_the_reconcile_queue_to_newer_ones(
    merchant: Merchant, token: Token, settings
) -> None:
    """A renewal whose lost answer may not be re-sent (``resend_stopped``, set with its
    alert) is passed by: it never holds a batch back from the newer ones behind it."""
    settings.CHARGE_RECONCILE_AFTER_SECONDS = 0
    first, second = new(merchant, token), new(merchant, token)
    due = at("2027-01-31")
    with override_settings(PROCESSOR_OPTIONS={"latency_ms": 0, "fault": "timeout_after"}):
        stopped = subscription_bill(subscription_id=first.id, now=due)
        newer = subscription_bill(subscription_id=second.id, now=due + timedelta(seconds=1))
    assert stopped is not None and newer is not None
    assert (stopped.status, newer.status) == ("pending", "pending")
    Charge.objects.filter(pk=stopped.pk).update(resend_stopped="charge")

    assert subscription_charges_reconcile(now=due + timedelta(hours=1), limit=1) == 1

    assert Charge.objects.get(pk=stopped.pk).status == "pending"
    assert Charge.objects.get(pk=newer.pk).status == "succeeded"
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.next_billing_at is not None and second.next_billing_at > due  # renewed
    assert first.next_billing_at is None  # still claimed, waiting on its notification
