"""Adyen's notifications applied to our charges and refunds: through the real adapter against
the spec-validating HTTPS fake, whose notifications are built from Adyen's webhooks spec and
signed as Adyen signs them, posted to ``/processors/adyen/notifications``. Each outcome is
applied once, in whatever order the items and our own answers arrive, and announced with our
webhook events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from checkout.payments.authorizations import capture_send, charge_capture, charge_release
from checkout.payments.models import Charge, Refund
from checkout.payments.notifications import DISPUTE_STEPS, UNASKED_REVERSALS
from checkout.payments.processors.models import AdyenNotification
from checkout.payments.services import charge_create, charges_reconcile, refund_create
from checkout.webhooks.models import Event
from monitoring.audit.models import AuditEvent
from monitoring.security.models import SecurityAlert
from tests.checkout.payments.processors.adyen_fake import (
    API_KEY,
    HMAC_KEY,
    MERCHANT_ACCOUNT,
    FakeAdyen,
    fake_adyen,
    notification_body,
)
from tests.checkout.webhooks.conftest import TlsFiles
from tests.checkout.webhooks.conftest import tls_files as tls_files  # the tests' own CA
from vault.models import Merchant, Token

URL = "/processors/adyen/notifications"
# Events are recorded once the change commits: real transactions.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake(tls_files: Callable[[str], TlsFiles], settings: Any) -> Iterator[FakeAdyen]:
    files = tls_files("localhost")
    with fake_adyen(certfile=str(files.cert), keyfile=str(files.key)) as running:
        settings.PROCESSOR_BACKEND = "checkout.payments.processors.adyen.AdyenProcessor"
        settings.PROCESSOR_OPTIONS = {
            "endpoint": running.endpoint,
            "api_key": API_KEY,
            "merchant_account": MERCHANT_ACCOUNT,
            "ca_bundle": str(files.ca),
            "timeout": 2.0,
        }
        settings.ADYEN_HMAC_KEY = HMAC_KEY
        yield running
    assert running.violations == [], running.violations


def post(*bodies: dict[str, Any]) -> None:
    for body in bodies:
        response = Client().post(URL, json.dumps(body), content_type="application/json")
        assert (response.status_code, response.content) == (200, b"[accepted]")


def deliver(fake: FakeAdyen) -> list[dict[str, Any]]:
    """Post what the fake owes, as Adyen would; returns the bodies posted."""
    owed, fake.queued = fake.queued, []
    post(*owed)
    return owed


def post_authorisation(fake: FakeAdyen) -> str:
    """Post Adyen's AUTHORISATION for the one payment the fake made; its PSP reference."""
    (request,) = fake.requests
    psp = next(iter(fake.payments))
    post(
        notification_body(
            "AUTHORISATION",
            psp=psp,
            reference=request["body"]["reference"],
            amount=request["body"]["amount"],
        )
    )
    return psp


def events(event_type: str) -> int:
    return Event.objects.filter(type=event_type).count()


def authorize(merchant: Merchant, token: Token, amount: int = 1000) -> Charge:
    charge = charge_create(
        merchant=merchant, token_id=token.id, amount=amount, currency="EUR", capture=False
    )
    assert charge.status == "requires_capture"
    return charge


def reload(obj: Charge | Refund) -> Any:
    return type(obj).objects.get(pk=obj.pk)


# --- captures ---


def test_a_capture_waits_for_its_notification_then_is_captured_once(
    fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    charge = authorize(merchant, token)
    in_flight = charge_capture(merchant=merchant, charge_id=charge.id, amount=600)
    # Adyen answered "received": not a capture yet, and nothing announced
    assert (in_flight.status, in_flight.amount_captured) == ("capturing", 0)
    assert in_flight.step_processor_id
    assert events("charge.captured") == 0

    (body,) = deliver(fake)
    captured = reload(charge)
    assert (captured.status, captured.amount_captured) == ("succeeded", 600)
    assert events("charge.captured") == 1
    (row,) = AdyenNotification.objects.all()
    assert (row.event_code, row.charge_id, row.outcome) == ("CAPTURE", charge.id, "applied")
    audit = AuditEvent.objects.get(action="processor.notification", object_id=charge.id)
    assert audit.data["outcome"] == "applied"

    post(body)  # Adyen re-sends it
    assert events("charge.captured") == 1
    assert AdyenNotification.objects.count() == 1
    assert fake.effects["capture"] == 1


def test_a_capture_notification_before_our_answer_is_recorded_is_applied_once(
    fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    # given Adyen makes the capture but its answer is lost: our charge stays capturing
    charge = authorize(merchant, token)
    fake.script.append("lost")
    in_flight = charge_capture(merchant=merchant, charge_id=charge.id)
    assert (in_flight.status, in_flight.step_processor_id) == ("capturing", "")
    # when the notification arrives first, then reconcile re-sends and Adyen replays "received"
    deliver(fake)
    again = capture_send(charge=in_flight)
    # then the capture is applied once and the late answer changes nothing
    assert (again.status, again.amount_captured) == ("succeeded", 1000)
    assert events("charge.captured") == 1
    assert fake.effects["capture"] == 1


def test_capture_failed_after_the_capture_fails_the_charge(
    fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    charge = authorize(merchant, token)
    charge_capture(merchant=merchant, charge_id=charge.id)
    (capture,) = deliver(fake)
    item = capture["notificationItems"][0]["NotificationRequestItem"]
    post(
        notification_body(
            "CAPTURE_FAILED",
            psp=item["pspReference"],
            original=item["originalReference"],
            reference=item["merchantReference"],
            amount=item["amount"],
            reason="Capture rejected by the card scheme",
        )
    )
    failed = reload(charge)
    assert (failed.status, failed.failure_code, failed.amount_captured) == (
        "failed",
        "capture_failed",
        0,
    )
    assert events("charge.captured") == events("charge.failed") == 1


def test_capture_failed_first_then_the_capture_converge_to_failed(
    fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    charge = authorize(merchant, token)
    charge_capture(merchant=merchant, charge_id=charge.id)
    (capture,) = fake.queued
    fake.queued.clear()
    item = capture["notificationItems"][0]["NotificationRequestItem"]
    capture_failed = notification_body(
        "CAPTURE_FAILED",
        psp=item["pspReference"],
        original=item["originalReference"],
        reference=item["merchantReference"],
        amount=item["amount"],
    )
    post(capture_failed, capture)
    assert reload(charge).status == "failed"
    assert events("charge.captured") == 0
    assert events("charge.failed") == 1


def test_a_capture_refused_by_notification_fails_the_charge(
    fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    fake.modification_outcomes["capture"] = (False, "Insufficient balance on payment")
    charge = authorize(merchant, token)
    charge_capture(merchant=merchant, charge_id=charge.id)
    deliver(fake)
    failed = reload(charge)
    assert (failed.status, failed.failure_code) == ("failed", "capture_failed")
    assert failed.failure_message == "Insufficient balance on payment"
    assert events("charge.failed") == 1


# --- releases ---


def test_a_release_is_confirmed_by_its_cancellation(
    fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    charge = authorize(merchant, token)
    assert charge_release(merchant=merchant, charge_id=charge.id).status == "releasing"
    deliver(fake)
    assert reload(charge).status == "released"
    assert events("charge.released") == 1


def test_an_expiry_waits_for_its_cancellation_then_is_expired(
    fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    from checkout.payments.authorizations import charges_expire

    charge = authorize(merchant, token)
    assert charges_expire(now=later(8 * 24 * 3600)) == 1
    assert reload(charge).status == "expiring"
    deliver(fake)
    assert reload(charge).status == "expired"
    assert events("charge.expired") == 1
    assert fake.effects["cancel"] == 1


# --- refunds ---


@pytest.fixture
def paid(fake: FakeAdyen, merchant: Merchant, token: Token) -> Charge:
    charge = charge_create(merchant=merchant, token_id=token.id, amount=1000, currency="EUR")
    assert charge.status == "succeeded"
    return charge


def test_a_refund_succeeds_on_its_notification_and_refund_failed_reverses_it(
    fake: FakeAdyen, merchant: Merchant, paid: Charge
) -> None:
    refund = refund_create(merchant=merchant, charge_id=paid.id, amount=400)
    assert (refund.status, bool(refund.processor_id)) == ("pending", True)
    assert events("refund.succeeded") == 0

    (body,) = deliver(fake)
    assert reload(refund).status == "succeeded"
    assert events("refund.succeeded") == events("charge.refunded") == 1
    assert reload(paid).amount_refunded == 400

    item = body["notificationItems"][0]["NotificationRequestItem"]
    post(
        notification_body(
            "REFUND_FAILED",
            psp=item["pspReference"],
            original=item["originalReference"],
            reference=item["merchantReference"],
            amount=item["amount"],
        )
    )
    assert (reload(refund).status, reload(refund).failure_code) == ("failed", "refund_failed")
    assert reload(paid).amount_refunded == 0  # refundable again
    assert events("refund.failed") == 1
    post(body)  # the success re-sent after the failure changes nothing
    assert reload(refund).status == "failed"
    assert events("refund.succeeded") == 1


def test_a_refund_refused_by_notification_fails_and_frees_the_amount(
    fake: FakeAdyen, merchant: Merchant, paid: Charge
) -> None:
    fake.modification_outcomes["refund"] = (False, "Refund not allowed")
    refund = refund_create(merchant=merchant, charge_id=paid.id)
    deliver(fake)
    assert reload(refund).status == "failed"
    assert reload(paid).amount_refunded == 0
    assert events("refund.failed") == 1
    assert events("refund.succeeded") == 0


def test_a_refund_notification_before_our_answer_settles_it_once(
    fake: FakeAdyen, merchant: Merchant, paid: Charge, settings: Any
) -> None:
    fake.script.append("lost")
    refund = refund_create(merchant=merchant, charge_id=paid.id)
    assert (refund.status, refund.processor_id) == ("pending", "")
    deliver(fake)
    settings.CHARGE_RECONCILE_AFTER_SECONDS = 0
    charges_reconcile()  # re-sends: Adyen replays "received"
    assert reload(refund).status == "succeeded"
    assert events("refund.succeeded") == 1
    assert fake.effects["refund"] == 1


# --- authorisations, unknown and conflicting items ---


def test_an_authorisation_settles_a_charge_whose_answer_was_lost(
    fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    fake.script.append("lost")
    charge = charge_create(merchant=merchant, token_id=token.id, amount=1000, currency="EUR")
    assert charge.status == "pending"
    psp = post_authorisation(fake)
    settled = reload(charge)
    assert (settled.status, settled.processor_id) == ("succeeded", psp)
    assert events("charge.succeeded") == 1


def test_a_notification_for_a_charge_we_do_not_know_changes_nothing(
    fake: FakeAdyen, paid: Charge
) -> None:
    post(
        notification_body(
            "CAPTURE",
            psp="PSPUNKNOWN000001",
            original="PSPUNKNOWN000000",
            reference="ch_notours:capture",
            amount={"currency": "EUR", "value": 1000},
        )
    )
    (row,) = AdyenNotification.objects.all()
    assert (row.charge_id, row.outcome) == ("", "unknown")
    assert reload(paid).status == "succeeded"
    assert Event.objects.exclude(type="charge.succeeded").count() == 0


@pytest.fixture
def released(fake: FakeAdyen, merchant: Merchant, token: Token) -> Charge:
    """An authorization released, its cancellation confirmed by Adyen."""
    charge = authorize(merchant, token)
    charge_release(merchant=merchant, charge_id=charge.id)
    deliver(fake)
    assert reload(charge).status == "released"
    return charge


def test_a_notification_contradicting_our_record_raises_an_operator_alert(
    released: Charge,
) -> None:
    charge = released
    post(
        notification_body(
            "CAPTURE",
            psp="PSPLATECAPTURE01",
            original=reload(charge).processor_id,
            reference=f"{charge.id}:capture",
            amount={"currency": "EUR", "value": 1000},
        )
    )
    assert reload(charge).status == "released"
    (alert,) = SecurityAlert.objects.filter(rule="processor_notification_conflict")
    assert alert.detail["charge"] == charge.id
    assert AdyenNotification.objects.get(event_code="CAPTURE").outcome == "conflict"


def test_a_notification_from_adyens_other_environment_is_never_applied(
    fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    charge = authorize(merchant, token)  # a test-mode charge
    charge_capture(merchant=merchant, charge_id=charge.id)
    (capture,) = fake.queued
    fake.queued.clear()
    item = capture["notificationItems"][0]["NotificationRequestItem"]
    post(
        notification_body(
            "CAPTURE",
            psp=item["pspReference"],
            original=item["originalReference"],
            reference=item["merchantReference"],
            amount=item["amount"],
            live=True,
        )
    )
    assert reload(charge).status == "capturing"
    assert AdyenNotification.objects.get().outcome == "conflict"
    assert SecurityAlert.objects.filter(rule="processor_notification_conflict").count() == 1
    assert events("charge.captured") == 0


def test_an_amount_that_is_not_ours_is_a_conflict_never_applied(
    fake: FakeAdyen, merchant: Merchant, token: Token
) -> None:
    charge = authorize(merchant, token, amount=1000)
    charge_capture(merchant=merchant, charge_id=charge.id)
    (capture,) = fake.queued
    fake.queued.clear()
    item = capture["notificationItems"][0]["NotificationRequestItem"]
    post(
        notification_body(
            "CAPTURE",
            psp=item["pspReference"],
            original=item["originalReference"],
            reference=item["merchantReference"],
            amount={"currency": "EUR", "value": 5000},  # more than was authorised
        )
    )
    assert reload(charge).status == "capturing"
    assert AdyenNotification.objects.get().outcome == "conflict"
    assert events("charge.captured") == 0


# --- notifications that never come ---


def later(seconds: float) -> Any:
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(seconds=seconds)


def test_an_accepted_step_is_not_resent_and_alerts_once_when_its_notification_is_overdue(
    fake: FakeAdyen, merchant: Merchant, token: Token, settings: Any
) -> None:
    settings.CHARGE_RECONCILE_AFTER_SECONDS = 0
    settings.PROCESSOR_ANSWER_OVERDUE_SECONDS = 3600
    charge = authorize(merchant, token)
    charge_capture(merchant=merchant, charge_id=charge.id)
    fake.queued.clear()  # Adyen's notification never reaches us
    sent = len(fake.requests)

    # within the window: the lost-answer reconcile leaves the accepted capture alone
    charges_reconcile(now=later(60))
    assert len(fake.requests) == sent
    assert not SecurityAlert.objects.filter(rule="processor_answer_overdue").exists()

    # past it: one critical alert naming Adyen's references, however often the job runs
    assert charges_reconcile(now=later(3601)) == 1
    charges_reconcile(now=later(7200))
    (alert,) = SecurityAlert.objects.filter(rule="processor_answer_overdue")
    held = reload(charge)
    assert (alert.source, alert.severity) == (charge.id, "critical")
    assert alert.detail == {
        "step": "capturing",
        "processor_reference": held.step_processor_id,
        "payment_reference": held.processor_id,
    }
    assert len(fake.requests) == sent  # nothing re-sent: no second capture possible
    assert AuditEvent.objects.filter(action="security_alert.raise", reason=alert.rule).count() == 1
    assert held.status == "capturing"


def test_an_overdue_refund_alerts_and_its_resent_notification_still_applies(
    fake: FakeAdyen, merchant: Merchant, paid: Charge, settings: Any
) -> None:
    settings.PROCESSOR_ANSWER_OVERDUE_SECONDS = 3600
    refund = refund_create(merchant=merchant, charge_id=paid.id)
    owed, fake.queued = fake.queued, []
    charges_reconcile(now=later(3601))
    (alert,) = SecurityAlert.objects.filter(rule="processor_answer_overdue")
    assert (alert.source, alert.detail["step"]) == (refund.id, "refund")
    # the operator has Adyen send it again (Customer Area → webhook event logs)
    post(*owed)
    assert reload(refund).status == "succeeded"
    assert events("refund.succeeded") == 1


@pytest.mark.parametrize("step", list(DISPUTE_STEPS))
def test_each_dispute_step_alerts_operations_once_and_leaves_the_charge(
    paid: Charge, step: str
) -> None:
    body = notification_body(
        step,
        psp="PSPDISPUTE000001",
        original=paid.processor_id,
        reference=paid.id,
        amount={"currency": "EUR", "value": 1000},
        reason="Fraudulent transaction",
    )
    post(body)
    post(body)  # Adyen re-sends: one alert
    (alert,) = SecurityAlert.objects.filter(rule="processor_dispute")
    assert alert.severity == ("critical" if DISPUTE_STEPS[step] else "warning")
    assert alert.detail == {
        "charge": paid.id,
        "event_code": step,
        "success": True,
        "psp_reference": "PSPDISPUTE000001",
        "amount": 1000,
        "currency": "EUR",
        "reason": "Fraudulent transaction",
    }
    assert reload(paid).status == "succeeded"
    assert AdyenNotification.objects.get(event_code=step).outcome == "unchanged"


def test_a_chargeback_then_its_reversal_are_two_alerts(paid: Charge) -> None:
    for step, psp in (("CHARGEBACK", "PSPDISPUTE000002"), ("CHARGEBACK_REVERSED", "PSPDISPUTE03")):
        post(
            notification_body(
                step,
                psp=psp,
                original=paid.processor_id,
                reference=paid.id,
                amount={"currency": "EUR", "value": 1000},
            )
        )
    alerts = SecurityAlert.objects.filter(rule="processor_dispute").order_by("raised_at", "id")
    assert [(a.detail["event_code"], a.severity) for a in alerts] == [
        ("CHARGEBACK", "critical"),
        ("CHARGEBACK_REVERSED", "warning"),
    ]


@pytest.mark.parametrize("step", sorted(UNASKED_REVERSALS))
def test_a_reversal_we_never_asked_for_conflicts_with_a_paid_charge(
    paid: Charge, step: str
) -> None:
    post(
        notification_body(
            step,
            psp="PSPREVERSAL00001",
            original=paid.processor_id,
            reference=paid.id,
            amount={"currency": "EUR", "value": 1000},
        )
    )
    assert reload(paid).status == "succeeded"
    assert AdyenNotification.objects.get(event_code=step).outcome == "conflict"
    (alert,) = SecurityAlert.objects.filter(rule="processor_notification_conflict")
    assert alert.detail["event_code"] == step


@pytest.mark.parametrize("step", sorted(UNASKED_REVERSALS))
def test_a_reversal_of_a_released_authorization_changes_nothing(
    released: Charge, step: str
) -> None:
    charge = released
    post(
        notification_body(
            step,
            psp="PSPREVERSAL00002",
            original=reload(charge).processor_id,
            reference=charge.id,
            amount={"currency": "EUR", "value": 1000},
        )
    )
    assert reload(charge).status == "released"
    assert AdyenNotification.objects.get(event_code=step).outcome == "unchanged"
    assert not SecurityAlert.objects.filter(rule="processor_notification_conflict").exists()
