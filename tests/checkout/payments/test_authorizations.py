"""Authorise now, capture later: full and partial capture, one capture only, release, expiry,
refunds bounded by what was captured, and every lost processor answer reconciled without a
second effect (the sandbox's ledger is the processor's books)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings

from checkout.payments.authorizations import (
    charge_capture,
    charge_release,
    charges_expire,
)
from checkout.payments.errors import CaptureAmountInvalid, ChargeNotCapturable, RefundNotAllowed
from checkout.payments.models import Charge
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.payments.services import charge_create, charges_reconcile, refund_create
from checkout.webhooks.models import Event
from monitoring.audit.models import AuditEvent
from tests.checkout.conftest import CARDS, at
from tests.factories import TokenFactory
from vault.models import Merchant, Token

# Events are recorded once the change commits: real transactions.
pytestmark = pytest.mark.django_db(transaction=True)

NOW = at("2030-01-31T10:00:00")
AT_CAPTURE = CARDS["decline_at_capture"][0]


@pytest.fixture
def fault() -> Iterator[Callable[..., None]]:
    """``fault("timeout_after", on="capture")``: the sandbox loses that step's answer."""
    overrides: list[Any] = []

    def set_fault(kind: str = "", *, on: str = "") -> None:
        while overrides:
            overrides.pop().disable()
        override = override_settings(
            PROCESSOR_OPTIONS={"latency_ms": 0, "fault": kind, "fault_on": on}
        )
        override.enable()
        overrides.append(override)

    yield set_fault
    while overrides:
        overrides.pop().disable()


def authorize(merchant: Merchant, token: Token, amount: int = 1000, **kwargs: Any) -> Charge:
    return charge_create(
        merchant=merchant,
        token_id=token.id,
        amount=amount,
        currency="EUR",
        capture=False,
        now=NOW,
        **kwargs,
    )


def ledger(kind: str) -> list[SandboxLedgerEntry]:
    return list(SandboxLedgerEntry.objects.filter(kind=kind))


def events(event_type: str) -> int:
    return Event.objects.filter(type=event_type).count()


def test_capture_false_authorises_only(merchant: Merchant, token: Token) -> None:
    charge = authorize(merchant, token)

    assert charge.status == "requires_capture"
    assert (charge.amount_capturable, charge.amount_captured, charge.captured) == (1000, 0, False)
    assert charge.capture_method == "manual"
    assert charge.authorization_expires_at == NOW + timedelta(hours=168)
    assert [e.kind for e in SandboxLedgerEntry.objects.all()] == ["authorize"]
    assert events("charge.authorized") == 1
    assert events("charge.succeeded") == 0


@override_settings(AUTHORIZATION_TTL_HOURS=2)
def test_the_hold_lasts_authorization_ttl_hours(merchant: Merchant, token: Token) -> None:
    assert authorize(merchant, token).authorization_expires_at == NOW + timedelta(hours=2)


def test_full_capture(merchant: Merchant, token: Token) -> None:
    charge = authorize(merchant, token)

    captured = charge_capture(merchant=merchant, charge_id=charge.id, now=NOW)

    assert captured.status == "succeeded"
    assert (captured.amount_captured, captured.amount_capturable, captured.captured) == (
        1000,
        0,
        True,
    )
    assert [(e.amount, e.approved) for e in ledger("capture")] == [(1000, True)]
    assert ledger("capture")[0].idempotency_key == f"{charge.id}:capture"
    assert events("charge.captured") == 1
    audit = AuditEvent.objects.get(action="charge.capture")
    assert (audit.object_id, audit.actor) == (charge.id, f"merchant:{merchant.pk}")


def test_partial_capture_releases_the_rest(merchant: Merchant, token: Token) -> None:
    charge = authorize(merchant, token)

    captured = charge_capture(merchant=merchant, charge_id=charge.id, amount=600, now=NOW)

    assert (captured.status, captured.amount, captured.amount_captured) == ("succeeded", 1000, 600)
    assert captured.amount_capturable == 0
    assert [e.amount for e in ledger("capture")] == [600]


def test_double_capture_is_refused(merchant: Merchant, token: Token) -> None:
    charge = authorize(merchant, token)
    charge_capture(merchant=merchant, charge_id=charge.id, amount=300, now=NOW)

    with pytest.raises(ChargeNotCapturable) as refused:
        charge_capture(merchant=merchant, charge_id=charge.id, amount=300, now=NOW)

    assert refused.value.code == "charge_already_captured"
    assert len(ledger("capture")) == 1
    assert Charge.objects.get().amount_captured == 300


def test_a_capture_above_the_authorised_amount_is_refused_and_changes_nothing(
    merchant: Merchant, token: Token
) -> None:
    charge = authorize(merchant, token)

    with pytest.raises(CaptureAmountInvalid) as refused:
        charge_capture(merchant=merchant, charge_id=charge.id, amount=1001, now=NOW)

    assert (refused.value.code, refused.value.field) == ("capture_amount_too_large", "amount")
    assert Charge.objects.get().status == "requires_capture"
    assert ledger("capture") == []


def test_an_immediate_charge_cannot_be_captured_again(merchant: Merchant, token: Token) -> None:
    charge = charge_create(
        merchant=merchant, token_id=token.id, amount=500, currency="EUR", now=NOW
    )
    assert (charge.status, charge.amount_captured, charge.captured) == ("succeeded", 500, True)

    with pytest.raises(ChargeNotCapturable) as refused:
        charge_capture(merchant=merchant, charge_id=charge.id, now=NOW)
    with pytest.raises(ChargeNotCapturable):
        charge_release(merchant=merchant, charge_id=charge.id, now=NOW)

    assert refused.value.code == "charge_already_captured"


def test_release_voids_the_hold_and_capture_after_it_is_refused(
    merchant: Merchant, token: Token
) -> None:
    charge = authorize(merchant, token)

    released = charge_release(merchant=merchant, charge_id=charge.id, now=NOW)
    with pytest.raises(ChargeNotCapturable) as late_capture:
        charge_capture(merchant=merchant, charge_id=charge.id, now=NOW)
    with pytest.raises(ChargeNotCapturable) as second_release:
        charge_release(merchant=merchant, charge_id=charge.id, now=NOW)

    assert (released.status, released.amount_capturable, released.amount_captured) == (
        "released",
        0,
        0,
    )
    assert late_capture.value.code == second_release.value.code == "charge_released"
    assert [e.idempotency_key for e in ledger("void")] == [f"{charge.id}:void"]
    assert ledger("capture") == []
    assert events("charge.released") == 1
    assert AuditEvent.objects.filter(action="charge.release", object_id=charge.id).count() == 1


def test_authorizations_expire_after_the_ttl_and_cannot_be_captured(
    merchant: Merchant, token: Token
) -> None:
    charge = authorize(merchant, token)
    fresh = authorize(merchant, TokenFactory.create(merchant=merchant), amount=200)
    later = NOW + timedelta(hours=168)
    Charge.objects.filter(pk=fresh.pk).update(authorization_expires_at=later + timedelta(hours=1))

    assert charges_expire(now=later - timedelta(seconds=1)) == 0
    assert charges_expire(now=later) == 1
    assert charges_expire(now=later) == 0  # nothing twice

    expired = Charge.objects.get(pk=charge.pk)
    assert (expired.status, expired.amount_capturable) == ("expired", 0)
    assert Charge.objects.get(pk=fresh.pk).status == "requires_capture"
    assert len(ledger("void")) == 1
    assert events("charge.expired") == 1
    assert AuditEvent.objects.filter(action="charge.expire", object_id=charge.id).count() == 1
    with pytest.raises(ChargeNotCapturable) as refused:
        charge_capture(merchant=merchant, charge_id=charge.id, now=later)
    assert refused.value.code == "authorization_expired"


def test_past_authorization_expires_at_a_capture_is_refused_even_before_the_expiry_job(
    merchant: Merchant, token: Token
) -> None:
    charge = authorize(merchant, token)

    with pytest.raises(ChargeNotCapturable) as refused:
        charge_capture(merchant=merchant, charge_id=charge.id, now=NOW + timedelta(hours=168))

    assert refused.value.code == "authorization_expired"
    assert ledger("capture") == []


def test_the_expire_command_releases_due_authorizations(
    merchant: Merchant, token: Token, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    charge = authorize(merchant, token)
    Charge.objects.filter(pk=charge.pk).update(authorization_expires_at=timezone.now())

    call_command("expire_authorizations")

    assert "expired 1" in capsys.readouterr().out
    assert Charge.objects.get().status == "expired"


def test_refunds_are_limited_to_the_captured_amount(merchant: Merchant, token: Token) -> None:
    charge = authorize(merchant, token)
    with pytest.raises(RefundNotAllowed) as uncaptured:
        refund_create(merchant=merchant, charge_id=charge.id, amount=1, now=NOW)
    charge_capture(merchant=merchant, charge_id=charge.id, amount=600, now=NOW)

    with pytest.raises(RefundNotAllowed) as too_much:
        refund_create(merchant=merchant, charge_id=charge.id, amount=601, now=NOW)
    whole = refund_create(merchant=merchant, charge_id=charge.id, now=NOW)

    assert uncaptured.value.code == "charge_not_refundable"
    assert too_much.value.code == "refund_amount_too_large"
    assert (whole.status, whole.amount) == ("succeeded", 600)
    refunded = Charge.objects.get()
    assert (refunded.amount_refunded, refunded.refunded) == (600, True)


def test_a_card_that_declines_at_capture_fails_the_charge(merchant: Merchant) -> None:
    token = TokenFactory.create(merchant=merchant, number=AT_CAPTURE["number"])
    charge = authorize(merchant, token)
    assert charge.status == "requires_capture"

    failed = charge_capture(merchant=merchant, charge_id=charge.id, now=NOW)

    assert (failed.status, failed.failure_code) == ("failed", AT_CAPTURE["failure_code"])
    assert (failed.amount_captured, failed.amount_capturable) == (0, 0)
    assert events("charge.failed") == 1
    with pytest.raises(ChargeNotCapturable) as again:
        charge_capture(merchant=merchant, charge_id=charge.id, now=NOW)
    assert again.value.code == "charge_not_authorized"


def test_a_declined_authorization_cannot_be_captured(merchant: Merchant) -> None:
    token = TokenFactory.create(merchant=merchant, number=CARDS["decline"][0]["number"])
    charge = authorize(merchant, token)

    with pytest.raises(ChargeNotCapturable) as refused:
        charge_capture(merchant=merchant, charge_id=charge.id, now=NOW)

    assert charge.status == "failed"
    assert refused.value.code == "charge_not_authorized"


def test_another_merchant_cannot_capture_or_release(
    merchant: Merchant, other_merchant: Merchant, token: Token
) -> None:
    from checkout.payments.errors import ChargeNotFound

    charge = authorize(merchant, token)

    with pytest.raises(ChargeNotFound):
        charge_capture(merchant=other_merchant, charge_id=charge.id, now=NOW)
    with pytest.raises(ChargeNotFound):
        charge_release(merchant=other_merchant, charge_id=charge.id, now=NOW)

    assert Charge.objects.get().status == "requires_capture"


def test_an_idempotency_key_replay_with_another_capture_setting_is_a_conflict(
    merchant: Merchant, token: Token
) -> None:
    from checkout.payments.errors import ChargeIdempotencyConflict

    first = authorize(merchant, token, idempotency_key="order-1")
    again = authorize(merchant, token, idempotency_key="order-1")

    assert again.pk == first.pk
    with pytest.raises(ChargeIdempotencyConflict):
        charge_create(
            merchant=merchant,
            token_id=token.id,
            amount=1000,
            currency="EUR",
            idempotency_key="order-1",
            now=NOW,
        )


# --- lost answers, step by step ----------------------------------------------------------------

LOST = ["timeout_before", "timeout_after", "connection_error"]


def reconcile() -> int:
    with override_settings(CHARGE_RECONCILE_AFTER_SECONDS=0):
        return charges_reconcile(now=NOW + timedelta(minutes=10))


@pytest.mark.parametrize("kind", ["timeout_before", "timeout_after"])
def test_a_lost_authorization_answer_is_reconciled_to_one_hold(
    merchant: Merchant, token: Token, fault: Callable[..., None], kind: str
) -> None:
    fault(kind, on="authorize")
    charge = authorize(merchant, token)
    assert charge.status == "pending"
    fault()

    assert reconcile() == 1

    charge.refresh_from_db()
    assert charge.status == "requires_capture"
    assert len(ledger("authorize")) == 1
    assert events("charge.authorized") == 1


@pytest.mark.parametrize("kind", LOST)
def test_a_lost_capture_answer_is_reconciled_to_one_capture(
    merchant: Merchant, token: Token, fault: Callable[..., None], kind: str
) -> None:
    charge = authorize(merchant, token)
    fault(kind, on="capture")

    in_flight = charge_capture(merchant=merchant, charge_id=charge.id, amount=700, now=NOW)
    with pytest.raises(ChargeNotCapturable) as meanwhile:
        charge_capture(merchant=merchant, charge_id=charge.id, amount=700, now=NOW)
    fault()
    reconciled = reconcile()
    again = reconcile()

    assert in_flight.status == "capturing"
    assert meanwhile.value.code == "charge_capture_in_progress"
    assert (reconciled, again) == (1, 0)
    charge.refresh_from_db()
    assert (charge.status, charge.amount_captured) == ("succeeded", 700)
    assert [(e.amount, e.approved) for e in ledger("capture")] == [(700, True)]
    assert events("charge.captured") == 1


@pytest.mark.parametrize("kind", LOST)
def test_a_lost_release_answer_is_reconciled_to_one_void(
    merchant: Merchant, token: Token, fault: Callable[..., None], kind: str
) -> None:
    charge = authorize(merchant, token)
    fault(kind, on="void")

    in_flight = charge_release(merchant=merchant, charge_id=charge.id, now=NOW)
    with pytest.raises(ChargeNotCapturable) as capture_meanwhile:
        charge_capture(merchant=merchant, charge_id=charge.id, now=NOW)
    fault()
    assert reconcile() == 1

    assert in_flight.status == "releasing"
    assert capture_meanwhile.value.code == "charge_release_in_progress"
    charge.refresh_from_db()
    assert charge.status == "released"
    assert len(ledger("void")) == 1
    assert ledger("capture") == []
    assert events("charge.released") == 1


@pytest.mark.parametrize("kind", LOST)
def test_a_lost_expiry_answer_is_reconciled_to_one_void(
    merchant: Merchant, token: Token, fault: Callable[..., None], kind: str
) -> None:
    charge = authorize(merchant, token)
    Charge.objects.filter(pk=charge.pk).update(authorization_expires_at=NOW)
    fault(kind, on="void")

    assert charges_expire(now=NOW) == 1
    assert Charge.objects.get().status == "expiring"
    assert charges_expire(now=NOW) == 0  # in flight: not claimed again
    fault()
    assert reconcile() == 1

    charge.refresh_from_db()
    assert charge.status == "expired"
    assert len(ledger("void")) == 1
    assert events("charge.expired") == 1
    assert events("charge.released") == 0


def test_a_reconcile_racing_the_original_answer_ends_the_step_once(
    merchant: Merchant, token: Token, fault: Callable[..., None]
) -> None:
    from checkout.payments.authorizations import capture_send

    charge = authorize(merchant, token)
    fault("timeout_after", on="capture")
    in_flight = charge_capture(merchant=merchant, charge_id=charge.id, now=NOW)
    fault()

    first = capture_send(charge=Charge.objects.get(pk=charge.pk), now=NOW)
    second = capture_send(charge=in_flight, now=NOW)  # the stale copy of the original

    assert first.status == second.status == "succeeded"
    assert len(ledger("capture")) == 1
    assert events("charge.captured") == 1


# --- modes ---------------------------------------------------------------------------------------


@override_settings(PROCESSOR_LIVE="tests.support.processors.LiveTestProcessor")
def test_live_authorizations_use_the_live_processor_and_stay_apart(merchant: Merchant) -> None:
    from checkout.payments.errors import ChargeNotFound
    from tests.checkout.payments.processors.test_modes import _live_token
    from tests.support.processors import LiveTestProcessor

    LiveTestProcessor.reset()
    live = merchant.in_mode(True)
    charge = authorize(live, _live_token(merchant))

    with pytest.raises(ChargeNotFound):  # a test-mode key does not see it
        charge_capture(merchant=merchant.in_mode(False), charge_id=charge.id, now=NOW)
    captured = charge_capture(merchant=live, charge_id=charge.id, amount=400, now=NOW)

    assert (charge.livemode, charge.status) == (True, "requires_capture")
    assert (captured.status, captured.amount_captured) == ("succeeded", 400)
    assert LiveTestProcessor.calls["authorize"] == LiveTestProcessor.calls["capture"] == 1
    assert SandboxLedgerEntry.objects.count() == 0  # the sandbox never saw a live card
    LiveTestProcessor.reset()
