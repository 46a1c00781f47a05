"""Adyen's notifications (``POST /processors/adyen/notifications``): verified, recorded once.

A batch is refused whole (``NotificationRefused``, nothing recorded) unless every item carries a
valid HMAC signature made with ``ADYEN_HMAC_KEY``: Adyen then retries, which is right both for
a forged batch and for a key an operator has yet to set. Each item is recorded once, unique on
its PSP reference and event code, so a re-sent or replayed item changes nothing and items may
arrive in any order; each is audited with the charge it concerns (our id, from the merchant
reference we sent), or none when we know no such charge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from checkout.payments.models import Charge, Refund
from checkout.payments.processors.adyen_hmac import item_verify
from checkout.payments.processors.models import AdyenNotification
from monitoring.audit.models import AuditEvent
from monitoring.audit.services import audit_record
from payments_site.kernel.errors import DomainError
from payments_site.kernel.jsontext import JsonRefused, json_parse

ACTOR = "processor:adyen"
MAX_BODY_BYTES = 1024 * 1024


class NotificationRefused(DomainError):
    code = "notification_refused"


def _items(body: bytes) -> list[Mapping[str, Any]]:
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
    return items  # type: ignore[return-value]


def _charge_of(reference: str) -> str:
    """Our charge id from the merchant reference we sent (a charge id, ``<charge>:capture``,
    ``<charge>:void`` or a refund id), or ""."""
    base = reference.split(":", 1)[0]
    if base.startswith("ch_") and Charge.objects.filter(pk=base).exists():
        return base
    if base.startswith("re_"):
        refund = Refund.objects.filter(pk=base).values("charge_id").first()
        return str(refund["charge_id"]) if refund else ""
    return ""


def adyen_notifications_receive(*, body: bytes) -> int:
    """Verify every item, then record each new one (audited). Returns how many were new."""
    items = _items(body)
    key = str(settings.ADYEN_HMAC_KEY)
    if not all(item_verify(item, key) for item in items):
        audit_record(
            action="processor.notification",
            outcome=AuditEvent.Outcome.DENIED,
            actor=ACTOR,
            reason="signature_invalid",
            data={"items": len(items)},
        )
        raise NotificationRefused("A notification item is unsigned or its signature is wrong.")
    new = 0
    for item in items:
        given = item.get("amount")
        amount: Mapping[str, Any] = given if isinstance(given, dict) else {}
        reference = str(item.get("merchantReference") or "")[:100]
        fields = {
            "psp_reference": str(item.get("pspReference") or "")[:64],
            "event_code": str(item.get("eventCode") or "")[:64],
            "original_reference": str(item.get("originalReference") or "")[:64],
            "merchant_reference": reference,
            "merchant_account": str(item.get("merchantAccountCode") or "")[:100],
            "success": str(item.get("success")).lower() == "true",
            "live": str(item.get("live", "false")).lower() == "true",
            "amount_value": amount.get("value") if isinstance(amount.get("value"), int) else None,
            "amount_currency": str(amount.get("currency") or "")[:3],
            "reason": str(item.get("reason") or "")[:200],
            "event_date": str(item.get("eventDate") or "")[:40],
            "charge_id": _charge_of(reference),
        }
        try:
            with transaction.atomic():
                notification = AdyenNotification.objects.create(**fields)
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
                    },
                )
        except IntegrityError:
            continue  # recorded already (a re-send or a replay): nothing more
        new += 1
    return new
