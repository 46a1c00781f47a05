"""Re-sends of a lost answer stop before the processor may forget the idempotency key.

Through the real Adyen adapter against the spec-validating HTTPS fake: for each request whose
answer can be lost and is re-sent by reconciliation (a charge, a capture, a refund), a re-send
inside Adyen's key lifetime is answered with the first result (one effect), and past it (less
the margin) nothing is sent at all — the fake is then told to forget its keys, as Adyen may, so
a re-send would be a second effect — the object stays as it was, and one critical alert and one
audit event say why, however often the job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from checkout.payments.authorizations import charge_capture
from checkout.payments.models import Charge, Refund
from checkout.payments.processors.adyen import AdyenProcessor
from checkout.payments.processors.base import RESEND_MARGIN
from checkout.payments.resend import CARD_UNAVAILABLE, KEY_LIFETIME_PASSED, RESEND_STOPPED_RULE
from checkout.payments.services import charge_create, charges_reconcile, refund_create
from monitoring.audit.models import AuditEvent
from monitoring.security.models import SecurityAlert
from tests.checkout.payments.processors.adyen_fake import FakeAdyen
from tests.checkout.payments.test_notification_outcomes import (
    authorize,
    later,
    post_authorisation,
    reload,
)
from tests.checkout.payments.test_notification_outcomes import fake as fake  # the fixture
from tests.checkout.webhooks.conftest import tls_files as tls_files  # the tests' own CA
from vault.models import Merchant, Token
from vault.services import token_revoke

pytestmark = pytest.mark.django_db(transaction=True)

STOP_AFTER = AdyenProcessor.idempotency_key_lifetime - RESEND_MARGIN


@dataclass(frozen=True)
class Lost:
    """A request whose answer Adyen computed and lost; ``status``: what it leaves ours in."""

    effect: str  # the fake's effect counter
    step: str
    object_type: str
    status: str
    make: Callable[..., Charge | Refund]


def _charge(fake: FakeAdyen, merchant: Merchant, token: Token) -> Charge:
    fake.script.append("lost")
    return charge_create(merchant=merchant, token_id=token.id, amount=1000, currency="EUR")


def _capture(fake: FakeAdyen, merchant: Merchant, token: Token) -> Charge:
    charge = authorize(merchant, token)
    fake.script.append("lost")
    return charge_capture(merchant=merchant, charge_id=charge.id)


def _refund(fake: FakeAdyen, merchant: Merchant, token: Token) -> Refund:
    paid = charge_create(merchant=merchant, token_id=token.id, amount=1000, currency="EUR")
    fake.script.append("lost")
    return refund_create(merchant=merchant, charge_id=paid.id)


LOST = [
    Lost("payment", "charge", "charge", "pending", _charge),
    Lost("capture", "capture", "charge", "capturing", _capture),
    Lost("refund", "refund", "refund", "pending", _refund),
]


@pytest.fixture(autouse=True)
def _reconcile_now(settings: Any) -> None:
    settings.CHARGE_RECONCILE_AFTER_SECONDS = 0
    settings.PROCESSOR_ANSWER_OVERDUE_SECONDS = 10 * 24 * 3600  # not this test's alert


def _stopped() -> list[SecurityAlert]:
    return list(SecurityAlert.objects.filter(rule=RESEND_STOPPED_RULE))


@pytest.mark.parametrize("lost", LOST, ids=[lost.step for lost in LOST])
def test_a_resend_inside_the_key_lifetime_is_answered_with_the_first_result(
    lost: Lost, fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    obj = lost.make(fake, merchant, token)
    assert reload(obj).status == lost.status
    sent = len(fake.requests)
    charges_reconcile(now=later((STOP_AFTER - timedelta(minutes=5)).total_seconds()))
    assert len(fake.requests) == sent + 1  # re-sent, replayed by Adyen
    assert fake.effects[lost.effect] == 1
    answered = reload(obj)
    if lost.step == "charge":
        assert answered.status == "succeeded"
    else:  # Adyen's replayed "received": now awaiting its notification, as the first send
        assert (answered.status, bool(_reference(answered))) == (lost.status, True)
    assert _stopped() == []


def _reference(obj: Charge | Refund) -> str:
    return obj.step_processor_id if isinstance(obj, Charge) else obj.processor_id


@pytest.mark.parametrize("lost", LOST, ids=[lost.step for lost in LOST])
def test_past_the_key_lifetime_nothing_is_resent_and_an_operator_is_told_once(
    lost: Lost, fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    obj = lost.make(fake, merchant, token)
    fake.answers.clear()  # Adyen may forget its keys now: a re-send would be a new request
    sent = len(fake.requests)
    for hours in (0, 1, 48):  # the job runs on, every pass
        charges_reconcile(
            now=later((STOP_AFTER + timedelta(hours=hours, minutes=1)).total_seconds())
        )
    assert len(fake.requests) == sent
    assert fake.effects[lost.effect] == 1
    assert reload(obj).status == lost.status
    (alert,) = _stopped()
    key = obj.id if lost.step != "capture" else f"{obj.id}:capture"
    assert (alert.source, alert.severity) == (obj.id, "critical")
    assert alert.detail["step"] == lost.step
    assert alert.detail["reason"] == KEY_LIFETIME_PASSED
    assert alert.detail["idempotency_key"] == key
    (audit,) = AuditEvent.objects.filter(action=f"{lost.object_type}.resend_stopped")
    assert (audit.object_id, audit.outcome, audit.reason) == (
        obj.id,
        "failure",
        KEY_LIFETIME_PASSED,
    )


def test_a_lost_charge_whose_token_was_revoked_is_not_failed_blindly(
    fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    """Adyen may have charged it: the card cannot be revealed to ask again, so the charge stays
    pending for the operator, and Adyen's own notification (resent from its console) settles
    it."""
    charge = _charge(fake, merchant, token)
    token_revoke(token=token, actor="test", reason="customer request")
    sent = len(fake.requests)
    charges_reconcile(now=later(60))
    charges_reconcile(now=later(120))
    assert len(fake.requests) == sent
    assert reload(charge).status == "pending"
    (alert,) = _stopped()
    assert (alert.source, alert.detail["reason"]) == (charge.id, CARD_UNAVAILABLE)

    psp = post_authorisation(fake)  # the operator has Adyen send it again
    settled = reload(charge)
    assert (settled.status, settled.processor_id) == ("succeeded", psp)
    assert fake.effects["payment"] == 1


def _first_sent(obj: Charge | Refund, ago: timedelta) -> None:
    """Make ``obj``'s first send (what the key lifetime counts from) ``ago`` in the past."""
    at = later(0) - ago
    if isinstance(obj, Refund):
        Refund.objects.filter(pk=obj.pk).update(created_at=at)
    elif obj.status == Charge.Status.CAPTURING:
        Charge.objects.filter(pk=obj.pk).update(step_started_at=at)
    else:
        Charge.objects.filter(pk=obj.pk).update(created_at=at)


@pytest.mark.parametrize("lost", LOST, ids=[lost.step for lost in LOST])
def test_a_stopped_request_leaves_the_queue_to_the_newer_ones_behind_it(
    lost: Lost, fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    """The job takes the oldest first, a batch at a time: stopped ones must not fill it."""
    stopped = lost.make(fake, merchant, token)
    _first_sent(stopped, STOP_AFTER + timedelta(hours=1))
    charges_reconcile(now=later(60))
    assert reload(stopped).resend_stopped == lost.step
    newer = lost.make(fake, merchant, token)
    sent = len(fake.requests)

    charges_reconcile(now=later(120), limit=1)  # a batch of one: room for one of the two

    assert len(fake.requests) == sent + 1  # the newer one re-sent, the stopped one passed by
    assert fake.effects[lost.effect] == 2  # one each, the newer one's replayed by Adyen
    assert reload(stopped).status == lost.status
    answered = reload(newer)
    if lost.step == "charge":
        assert answered.status == "succeeded"
    else:
        assert (answered.status, bool(_reference(answered))) == (lost.status, True)
    assert [alert.source for alert in _stopped()] == [stopped.id]
