"""Checkout sessions as a service: created with checked input, completed once, by a JWE made
for that very session and page, never after expiry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_bill, subscription_current_period
from checkout.payments.models import Charge
from checkout.payments.services import charge_reconcile
from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import (
    CheckoutSessionUnavailable,
    checkout_session_complete,
    checkout_session_get,
)
from monitoring.audit.models import AuditEvent
from payments_site.kernel.errors import InvalidInput
from tests.checkout.sessions.conftest import AMEX, DECLINED, VISA, jwe_for
from vault.cards import CardValidationError
from vault.keys import KeyService
from vault.models import Merchant, Token
from vault.transport.ingest import IngestRefused

pytestmark = pytest.mark.django_db

Factory = Callable[..., CheckoutSession]


def complete(session: CheckoutSession, number: str = VISA, **card: object):
    return checkout_session_complete(
        session_id=session.pk, nonce=session.nonce, card_jwe=jwe_for(session, number, **card)
    )


# --- create ----------------------------------------------------------------------------------


def test_a_session_expires_after_thirty_minutes_by_default(session_factory: Factory) -> None:
    session = session_factory()

    assert session.pk.startswith("cs_") and len(session.pk) == 25
    assert session.expires_at - session.created_at == timedelta(minutes=30)
    assert session.status == "open" and session.attempts == 0


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("javascript:alert(1)", "invalid_url_scheme"),
        ("data:text/html,hi", "invalid_url_scheme"),
        ("/relative/path", "invalid_url"),
        ("ftp://shop.example/x", "invalid_url_scheme"),
        ("https://user:pw@shop.example/x", "invalid_url"),
        ("https://shop.example\\@evil.example/", "invalid_url"),
        ("https://shop.example/a b", "invalid_url"),
        ("https://shop.example/\u00e9", "invalid_url"),
        ("https://shop.example:99999/", "invalid_url"),
        ("https:///nohost", "invalid_url"),
        ("https://shop.example/" + "a" * 2000, "invalid_url"),
        ("http://shop.example/thanks", "insecure_url"),
        ("https://{CHECKOUT_SESSION_ID}.shop.example/thanks", "invalid_url"),
    ],
)
@override_settings(CHECKOUT_REDIRECT_HTTP_ALLOWED=False)
def test_unsafe_redirect_urls_are_refused(
    session_factory: Factory, merchant: Merchant, url: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        session_factory(success_url=url)

    assert [(e.field, e.code) for e in refused.value.errors] == [("success_url", code)]
    assert not CheckoutSession.objects.filter(merchant=merchant).exists()


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"mode": "payment", "amount": None, "currency": "EUR"}, "amount", "missing_field"),
        ({"mode": "payment", "currency": "XYZ"}, "currency", "invalid_currency"),
        ({"mode": "setup", "amount": 100, "currency": "EUR"}, "mode", "invalid_for_mode"),
        ({"mode": "payment", "interval": "month"}, "interval", "invalid_for_mode"),
        ({"mode": "subscription", "interval": "fortnight"}, "interval", "invalid_choice"),
        (
            {"mode": "subscription", "interval": "month", "interval_count": 13},
            "interval_count",
            "invalid_interval_count",
        ),
        ({"mode": "refund"}, "mode", "invalid_choice"),
        ({"mode": "payment", "expires_in": 60}, "expires_in", "invalid_expires_in"),
        (
            {"mode": "payment", "description": f"card {VISA}"},
            "description",
            "card_data_not_allowed",
        ),
    ],
)
def test_inconsistent_sessions_are_refused(
    session_factory: Factory, merchant: Merchant, fields: dict, field: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        session_factory(**fields)

    assert (field, code) in [(e.field, e.code) for e in refused.value.errors]
    assert not CheckoutSession.objects.filter(merchant=merchant).exists()


# --- complete --------------------------------------------------------------------------------


def test_a_payment_session_charges_the_card_once_and_ends_on_the_success_url(
    keys: KeyService, session_factory: Factory
) -> None:
    session = session_factory()

    attempt = complete(session)

    session.refresh_from_db()
    assert attempt.outcome == "complete"
    assert session.status == "complete" and session.completed_at is not None
    assert session.token is not None and session.token.last4 == VISA[-4:]
    assert session.charge is not None and session.charge.status == Charge.Status.SUCCEEDED
    assert session.charge.amount == 1999 and session.charge.currency == "EUR"
    assert session.charge.metadata["checkout_session"] == session.pk
    assert attempt.redirect_url == "https://shop.example/thanks?order=42"  # as given
    assert AuditEvent.objects.filter(
        action="checkout.attempt", object_id=session.pk, outcome="success"
    ).exists()


def test_a_session_cannot_be_completed_twice(keys: KeyService, session_factory: Factory) -> None:
    session = session_factory()
    complete(session)

    with pytest.raises(CheckoutSessionUnavailable) as second:
        complete(session, AMEX)  # even with the page's current nonce

    assert second.value.code == "session_complete"
    assert Charge.objects.filter(metadata__checkout_session=session.pk).count() == 1
    assert Token.objects.filter(last4=AMEX[-4:]).count() == 0


def test_an_expired_session_takes_no_card(keys: KeyService, session_factory: Factory) -> None:
    session = session_factory()
    card_jwe = jwe_for(session)
    CheckoutSession.objects.filter(pk=session.pk).update(
        created_at=timezone.now() - timedelta(hours=1),
        expires_at=timezone.now() - timedelta(seconds=1),
    )

    with pytest.raises(CheckoutSessionUnavailable) as refused:
        checkout_session_complete(session_id=session.pk, nonce=session.nonce, card_jwe=card_jwe)

    session.refresh_from_db()
    assert refused.value.code == "session_expired"
    assert session.status == "expired"
    assert not Token.objects.exists()


def test_a_jwe_made_for_another_session_is_refused(
    keys: KeyService, session_factory: Factory
) -> None:
    ours, theirs = session_factory(), session_factory()
    lifted = jwe_for(theirs)

    with pytest.raises(IngestRefused) as refused:
        checkout_session_complete(session_id=ours.pk, nonce=ours.nonce, card_jwe=lifted)

    ours.refresh_from_db()
    assert refused.value.code == "session_mismatch"
    assert ours.status == "open" and ours.last_failure_code == "session_mismatch"
    assert not Token.objects.exists()
    assert AuditEvent.objects.filter(object_id=ours.pk, outcome="denied").exists()


def test_a_page_nonce_is_good_for_one_attempt(keys: KeyService, session_factory: Factory) -> None:
    session = session_factory()
    spent_nonce = session.nonce
    first = jwe_for(session, DECLINED)
    checkout_session_complete(session_id=session.pk, nonce=spent_nonce, card_jwe=first)

    with pytest.raises(CheckoutSessionUnavailable) as stale:
        checkout_session_complete(session_id=session.pk, nonce=spent_nonce, card_jwe=first)
    session.refresh_from_db()
    with pytest.raises(IngestRefused) as mismatch:  # the spent JWE, posted with the new nonce
        checkout_session_complete(session_id=session.pk, nonce=session.nonce, card_jwe=first)

    assert stale.value.code == "page_stale"
    assert mismatch.value.code == "session_mismatch"
    assert Token.objects.count() == 1  # only the declined attempt's (revoked) token
    assert CheckoutSession.objects.get(pk=session.pk).status == "open"


def test_a_declined_card_then_a_good_one_in_the_same_session(
    keys: KeyService, session_factory: Factory
) -> None:
    session = session_factory()

    declined = complete(session, DECLINED)
    session.refresh_from_db()
    declined_token = Token.objects.get(last4=DECLINED[-4:])
    assert declined.outcome == "declined" and declined.failure_code == "card_declined"
    assert session.status == "open" and session.last_failure_code == "card_declined"
    assert declined_token.status == Token.Status.REVOKED  # its card was crypto-shredded

    approved = complete(session, VISA)

    session.refresh_from_db()
    assert approved.outcome == "complete" and session.attempts == 2
    assert session.token is not None and session.token.last4 == VISA[-4:]
    charges = Charge.objects.filter(metadata__checkout_session=session.pk)
    assert sorted(c.status for c in charges) == ["failed", "succeeded"]


def test_invalid_card_fields_reopen_the_session(keys: KeyService, session_factory: Factory) -> None:
    session = session_factory()

    with pytest.raises(CardValidationError) as invalid:
        complete(session, VISA, exp_year=2001)

    session.refresh_from_db()
    assert [e.code for e in invalid.value.errors] == ["expired_card"]
    assert session.status == "open" and not Token.objects.exists()


def test_a_setup_session_stores_the_token_and_charges_nothing(
    keys: KeyService, session_factory: Factory
) -> None:
    session = session_factory(mode="setup")

    complete(session, AMEX)

    session.refresh_from_db()
    assert session.status == "complete" and session.charge is None
    assert session.token is not None and session.token.brand == "amex"
    assert session.token.status == Token.Status.ACTIVE
    assert not Charge.objects.exists()


def test_a_subscription_session_pays_the_first_period_and_schedules_the_next(
    keys: KeyService, session_factory: Factory
) -> None:
    session = session_factory(mode="subscription", amount=900, interval="month")

    complete(session)

    session.refresh_from_db()
    subscription = Subscription.objects.get(pk=session.subscription_id)
    assert session.charge is not None and session.charge.status == "succeeded"
    assert subscription.token_id == session.token_id and subscription.amount == 900
    assert subscription.status == "active" and subscription.interval == "month"
    assert subscription.next_billing_at is not None
    assert session.completed_at is not None
    assert subscription.next_billing_at.date() > session.completed_at.date() + timedelta(days=27)
    # the checkout's charge is period 0's payment: listed with the subscription, and the
    # current period is the one it paid for
    (first,) = Charge.objects.filter(subscription=subscription)
    assert first == session.charge
    assert (first.period, first.attempt, subscription.period) == (0, 1, 1)
    start, end = subscription_current_period(subscription)
    assert start == subscription.anchor <= first.created_at < end == subscription.next_billing_at


def test_billing_after_a_subscription_checkout_charges_period_1_only(
    keys: KeyService, session_factory: Factory
) -> None:
    session = session_factory(mode="subscription", amount=900, interval="week")
    complete(session)
    session.refresh_from_db()
    subscription = Subscription.objects.get(pk=session.subscription_id)
    assert subscription_bill(subscription_id=subscription.pk) is None  # nothing due yet
    assert subscription.next_billing_at is not None

    renewal = subscription_bill(
        subscription_id=subscription.pk, now=subscription.next_billing_at + timedelta(minutes=1)
    )

    assert renewal is not None and renewal.status == "succeeded"
    assert (renewal.period, renewal.attempt) == (1, 1)
    assert Charge.objects.filter(subscription=subscription).count() == 2


def test_a_lost_processor_answer_leaves_the_session_processing_until_reconciled(
    keys: KeyService, session_factory: Factory, merchant: Merchant
) -> None:
    session = session_factory()
    with override_settings(PROCESSOR_OPTIONS={"latency_ms": 0, "fault": "timeout_after"}):
        attempt = complete(session)
    assert attempt.outcome == "pending"
    session.refresh_from_db()
    assert session.status == "processing"
    with pytest.raises(CheckoutSessionUnavailable) as busy:
        complete(session)
    assert busy.value.code == "session_busy"

    assert session.charge_id is not None
    charge_reconcile(charge_id=session.charge_id)
    synced = checkout_session_get(merchant=merchant, session_id=session.pk)

    assert synced.status == "complete"
    assert Charge.objects.get(pk=session.charge_id).status == "succeeded"


def test_an_attempt_that_died_reopens_the_session_after_the_lock(
    session_factory: Factory, merchant: Merchant
) -> None:
    session = session_factory()
    CheckoutSession.objects.filter(pk=session.pk).update(
        status="processing", locked_at=timezone.now() - timedelta(minutes=5)
    )

    synced = checkout_session_get(merchant=merchant, session_id=session.pk)

    assert synced.status == "open" and synced.last_failure_code == "attempt_abandoned"
