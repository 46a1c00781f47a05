"""Adyen's notifications (``POST /processors/adyen/notifications``): verified, applied once.

A batch is refused whole (``NotificationRefused``, nothing recorded) unless every item carries a
valid HMAC signature made with ``ADYEN_HMAC_KEY`` (or, while a new key is rolled out, one of
``ADYEN_HMAC_PREVIOUS_KEYS``): Adyen then retries, which is right both for a forged batch and
for a key an operator has yet to set.

Each item is recorded once, unique on its PSP reference, event code and success, and applied
in the same transaction as its record, so a re-sent or replayed item changes nothing and a
failure to apply rolls the record back for Adyen's retry. What it concerns is found from the
merchant reference we sent (a charge id, ``<charge>:capture``, ``<charge>:void``, a refund
id), else from Adyen's references (the payment's, a refund's). Applying it:

- ``AUTHORISATION``: settles a charge whose answer was lost (still ``pending``);
- ``CAPTURE`` true: the capture is confirmed (``charge.captured``); ``CAPTURE`` false or
  ``CAPTURE_FAILED``: the charge fails, nothing captured (``charge.failed``);
- ``CANCELLATION`` true: the release is confirmed (``charge.released`` / ``charge.expired``);
- ``REFUND`` true: ``refund.succeeded``; ``REFUND`` false or ``REFUND_FAILED``: ``refund.failed``
  and the amount is refundable again;
- a dispute (``NOTIFICATION_OF_CHARGEBACK``, ``CHARGEBACK``, ``SECOND_CHARGEBACK``, the
  pre-arbitration outcomes, ``REQUEST_FOR_INFORMATION``, ``NOTIFICATION_OF_FRAUD``…) on a
  charge of ours: an operator alert (``processor_dispute``, critical when money is taken back)
  with the item's amount and reason. Our record of the charge stays as it is: a dispute is
  decided between banks, and what it moves is on Adyen's statements, not in our ledger;
- ``CANCEL_OR_REFUND`` or ``TECHNICAL_CANCEL`` true (made in Adyen's console, or by Adyen
  itself): we never ask for either, so on a charge that took money it contradicts our record
  and raises the conflict alert; on one that took none it changes nothing.

The transitions only move forward (a failure absorbs a later confirmation, a confirmation never
undoes a failure), so items converge to one state in whatever order they arrive, before or
after our own answer is recorded. A notification for nothing we know is recorded and changes
nothing; one that contradicts our record (a release confirmed on a captured charge, Adyen's
test environment naming a live charge) raises an operator alert. Every item is audited with
what it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from checkout.clock import clock_now
from checkout.payments.authorizations import (
    APPLIED,
    CONFLICT,
    UNCHANGED,
    capture_confirm,
    capture_refuse,
    void_confirm,
)
from checkout.payments.models import Charge, Refund
from checkout.payments.processors import ProcessorCharge
from checkout.payments.processors.adyen_hmac import item_verify
from checkout.payments.processors.models import AdyenNotification
from checkout.payments.services import (
    charge_report,
    charge_settle,
    refund_confirm,
    refund_refuse,
)
from monitoring.audit.models import AuditEvent
from monitoring.audit.services import audit_record
from monitoring.security.engine import alert_raise
from monitoring.security.models import SecurityAlert
from payments_site.kernel.errors import DomainError
from payments_site.kernel.jsontext import JsonRefused, json_parse

ACTOR = "processor:adyen"
MAX_BODY_BYTES = 1024 * 1024


class NotificationRefused(DomainError):
    code = "notification_refused"


def _items(body: bytes) -> tuple[bool, list[Mapping[str, Any]]]:
    """The batch's ``live`` flag (Adyen's environment) and its items."""
    try:
        document = json_parse(body, max_bytes=MAX_BODY_BYTES)
    except JsonRefused as exc:
        raise NotificationRefused("The notification is not valid JSON.") from exc
    wrapped = document.get("notificationItems") if isinstance(document, dict) else None
    if not isinstance(wrapped, list) or not wrapped:
        raise NotificationRefused("No notificationItems.")
    items = [w.get("NotificationRequestItem") for w in wrapped if isinstance(w, dict)]
    if len(items) != len(wrapped) or not all(isinstance(i, dict) for i in items):
        raise NotificationRefused("Every notification item must be a NotificationRequestItem.")
    return str(document.get("live", "false")).lower() == "true", items  # type: ignore[return-value]


def _charge_of(reference: str, original: str) -> str:
    """Our charge id from the merchant reference we sent (a charge id, ``<charge>:capture``,
    ``<charge>:void`` or a refund id), else the charge Adyen's payment reference names, or
    ""."""
    base = reference.split(":", 1)[0]
    if base.startswith("ch_") and Charge.objects.filter(pk=base).exists():
        return base
    if base.startswith("re_"):
        refund = Refund.objects.filter(pk=base).values("charge_id").first()
        if refund:
            return str(refund["charge_id"])
    if original:
        found = Charge.objects.filter(processor_id=original).values_list("pk", flat=True).first()
        return str(found or "")
    return ""


def _refund_of(reference: str, psp: str) -> str:
    base = reference.split(":", 1)[0]
    if base.startswith("re_") and Refund.objects.filter(pk=base).exists():
        return base
    found = (
        Refund.objects.filter(processor_id=psp).values_list("pk", flat=True).first()
        if psp
        else None
    )
    return str(found or "")


def _same_money(notification: AdyenNotification, *, amount: int, currency: str) -> bool:
    """The item's amount is ``amount`` in ``currency`` (an item without one agrees)."""
    if notification.amount_value is None:
        return True
    return notification.amount_value == amount and (
        notification.amount_currency.upper() == currency.upper()
    )


def _authorisation(notification: AdyenNotification, *, now: datetime) -> str:
    charge = Charge.objects.select_related("token").get(pk=notification.charge_id)
    if not _same_money(notification, amount=charge.amount, currency=charge.currency):
        return CONFLICT  # not the payment we asked for
    if charge.status == Charge.Status.PENDING and charge.subscription_id is None:
        settled = charge_settle(
            charge=charge,
            result=ProcessorCharge(
                processor_id=notification.psp_reference,
                approved=notification.success,
                failure_code="" if notification.success else "card_declined",
                failure_message="" if notification.success else "The card was declined.",
            ),
            now=now,
        )
        fingerprint = charge.token.fingerprint
        # The card-testing rules hear of it once committed, as of a reconciled charge.
        transaction.on_commit(lambda: charge_report(charge=settled, fingerprint=fingerprint))
        return APPLIED
    if charge.status == Charge.Status.PENDING:
        return UNCHANGED  # a subscription's charge: billing's reconcile settles it
    if notification.success == (charge.status != Charge.Status.FAILED):
        return UNCHANGED
    return CONFLICT


# Dispute steps, each with whether it takes the money back (a critical alert) or only asks or
# tells (a warning). Adyen's names (its webhooks spec's eventCode values).
DISPUTE_STEPS: dict[str, bool] = {
    "NOTIFICATION_OF_CHARGEBACK": False,
    "REQUEST_FOR_INFORMATION": False,
    "NOTIFICATION_OF_FRAUD": False,
    "INFORMATION_SUPPLIED": False,
    "DISPUTE_DEFENSE_PERIOD_ENDED": False,
    "CHARGEBACK": True,
    "SECOND_CHARGEBACK": True,
    "PREARBITRATION_LOST": True,
    "CHARGEBACK_REVERSED": False,
    "PREARBITRATION_WON": False,
}
# Steps Adyen takes that we never ask for: money moved back outside our record.
UNASKED_REVERSALS = frozenset({"CANCEL_OR_REFUND", "TECHNICAL_CANCEL"})
# A charge in one of these took no money, so a reversal of it changes nothing.
_NOTHING_TAKEN = frozenset({Charge.Status.FAILED, Charge.Status.RELEASED, Charge.Status.EXPIRED})


def _dispute(notification: AdyenNotification) -> str:
    takes_money = DISPUTE_STEPS[notification.event_code]
    alert_raise(
        rule="processor_dispute",
        source=f"{notification.charge_id}:{notification.event_code}:{notification.psp_reference}",
        since=notification.received_at,
        severity=(
            SecurityAlert.Severity.CRITICAL if takes_money else SecurityAlert.Severity.WARNING
        ),
        detail={
            "charge": notification.charge_id,
            "event_code": notification.event_code,
            "success": notification.success,
            "psp_reference": notification.psp_reference,
            "amount": notification.amount_value,
            "currency": notification.amount_currency,
            "reason": notification.reason,
        },
    )
    return UNCHANGED


def _apply(notification: AdyenNotification, *, now: datetime) -> str:
    """Apply one recorded item (see the module's docstring); returns its outcome."""
    event, success = notification.event_code, notification.success
    if notification.charge_id:
        livemode = Charge.objects.values_list("livemode", flat=True).get(pk=notification.charge_id)
        if livemode != notification.live:
            return CONFLICT  # Adyen's other environment names our charge: never applied
    if event in ("REFUND", "REFUND_FAILED"):
        if not notification.refund_id:
            return AdyenNotification.Outcome.UNKNOWN
        if event == "REFUND" and success:
            changed = refund_confirm(
                refund_id=notification.refund_id, processor_id=notification.psp_reference, now=now
            )
        else:
            changed = refund_refuse(
                refund_id=notification.refund_id, processor_id=notification.psp_reference, now=now
            )
        return APPLIED if changed else UNCHANGED
    if not notification.charge_id:
        return AdyenNotification.Outcome.UNKNOWN
    if event in DISPUTE_STEPS:
        return _dispute(notification)
    if event in UNASKED_REVERSALS:
        status = Charge.objects.values_list("status", flat=True).get(pk=notification.charge_id)
        return CONFLICT if success and status not in _NOTHING_TAKEN else UNCHANGED
    if event == "AUTHORISATION":
        return _authorisation(notification, now=now)
    if event == "CAPTURE" and success:
        return capture_confirm(
            charge_id=notification.charge_id, amount=notification.amount_value, now=now
        )
    if event in ("CAPTURE", "CAPTURE_FAILED"):
        return capture_refuse(charge_id=notification.charge_id, reason=notification.reason, now=now)
    if event == "CANCELLATION" and success:
        return void_confirm(charge_id=notification.charge_id, now=now)
    if event == "CANCELLATION":
        status = Charge.objects.values_list("status", flat=True).get(pk=notification.charge_id)
        in_flight = status in (Charge.Status.RELEASING, Charge.Status.EXPIRING)
        return CONFLICT if in_flight else UNCHANGED
    return UNCHANGED


def _alert(notification: AdyenNotification) -> None:
    alert_raise(
        rule="processor_notification_conflict",
        source=f"{notification.charge_id}:{notification.event_code}",
        since=notification.received_at,
        detail={
            "charge": notification.charge_id,
            "refund": notification.refund_id,
            "event_code": notification.event_code,
            "success": notification.success,
            "psp_reference": notification.psp_reference,
        },
    )


def adyen_notifications_receive(*, body: bytes, now: datetime | None = None) -> int:
    """Verify every item, then record and apply each new one (audited). Returns how many were
    new."""
    live, items = _items(body)
    keys = [k for k in (settings.ADYEN_HMAC_KEY, *settings.ADYEN_HMAC_PREVIOUS_KEYS) if k]
    if not all(any(item_verify(item, str(key)) for key in keys) for item in items):
        audit_record(
            action="processor.notification",
            outcome=AuditEvent.Outcome.DENIED,
            actor=ACTOR,
            reason="signature_invalid",
            data={"items": len(items)},
        )
        raise NotificationRefused("A notification item is unsigned or its signature is wrong.")
    now = clock_now(now)
    new = 0
    for item in items:
        given = item.get("amount")
        amount: Mapping[str, Any] = given if isinstance(given, dict) else {}
        reference = str(item.get("merchantReference") or "")[:100]
        psp = str(item.get("pspReference") or "")[:64]
        original = str(item.get("originalReference") or "")[:64]
        event = str(item.get("eventCode") or "")[:64]
        fields = {
            "psp_reference": psp,
            "event_code": event,
            "original_reference": original,
            "merchant_reference": reference,
            "merchant_account": str(item.get("merchantAccountCode") or "")[:100],
            "success": str(item.get("success")).lower() == "true",
            "live": live,
            "amount_value": amount.get("value") if isinstance(amount.get("value"), int) else None,
            "amount_currency": str(amount.get("currency") or "")[:3],
            "reason": str(item.get("reason") or "")[:200],
            "event_date": str(item.get("eventDate") or "")[:40],
            "charge_id": _charge_of(reference, original),
            "refund_id": _refund_of(reference, psp) if event.startswith("REFUND") else "",
        }
        with transaction.atomic():
            try:
                with transaction.atomic():
                    notification = AdyenNotification.objects.create(**fields)
            except IntegrityError:
                continue  # recorded already (a re-send or a replay): nothing more
            outcome = _apply(notification, now=now)
            notification.outcome = outcome
            notification.save(update_fields=["outcome"])
            if outcome == CONFLICT:
                _alert(notification)
            audit_record(
                action="processor.notification",
                actor=ACTOR,
                object_type="charge" if notification.charge_id else "",
                object_id=notification.charge_id,
                reason=notification.event_code,
                data={
                    "psp_reference": notification.psp_reference,
                    "original_reference": notification.original_reference,
                    "success": notification.success,
                    "known_charge": bool(notification.charge_id),
                    "refund": notification.refund_id,
                    "outcome": outcome,
                },
            )
        new += 1
    return new
