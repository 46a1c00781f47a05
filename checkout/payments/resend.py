"""When a request whose answer was lost must not be sent again.

Reconciliation re-sends a charge, capture or refund under its first idempotency key, and the
processor answers with its first result — but only while it still keeps that key. Past the
processor's key lifetime (less ``RESEND_MARGIN``) a re-send is a new request that could move
money a second time; and a charge whose card the vault no longer reveals (revoked or expired
since) cannot be re-sent at all, though its first send may have reached the processor. Either
way the object stays as it is, and an operator is told once, with what they need to find it in
the processor's console; the processor's notification for it (resent from there) settles it.
The object is marked (``resend_stopped``, the step) so that reconciliation passes it by from
then on: however many pile up, they never hold back the newer ones behind them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from checkout.payments.models import Charge, Refund
from checkout.payments.processors.base import Processor, resend_safe
from monitoring.audit.services import audit_record
from monitoring.security.engine import alert_raise

logger = logging.getLogger(__name__)

RESEND_STOPPED_RULE = "processor_resend_stopped"
KEY_LIFETIME_PASSED = "idempotency_key_lifetime_passed"
CARD_UNAVAILABLE = "card_unavailable"


def resend_stopped(
    *,
    processor: Processor,
    object_type: str,
    object_id: str,
    step: str,
    idempotency_key: str,
    first_sent_at: datetime,
    now: datetime,
    card_unavailable: bool = False,
) -> bool:
    """Whether the request first sent at ``first_sent_at`` must not be sent again: past the
    processor's key lifetime, or (``card_unavailable``) without a card to send. When so, one
    critical ``processor_resend_stopped`` alert is raised for ``object_id`` (once, however often
    the reconcile job asks), audited as ``<object_type>.resend_stopped`` in the same commit,
    and the object marked with ``step`` so that the job no longer asks."""
    if not resend_safe(processor=processor, first_sent_at=first_sent_at, now=now):
        reason = KEY_LIFETIME_PASSED
    elif card_unavailable:
        reason = CARD_UNAVAILABLE
    else:
        return False
    model = Refund if object_type == "refund" else Charge
    with transaction.atomic():
        model.objects.filter(pk=object_id).update(resend_stopped=step)
        alert = alert_raise(
            rule=RESEND_STOPPED_RULE,
            source=object_id,
            since=first_sent_at,
            observed=(now - first_sent_at).total_seconds(),
            detail={
                "step": step,
                "reason": reason,
                "idempotency_key": idempotency_key,
                "first_sent_at": first_sent_at.isoformat(),
            },
        )
        if alert is None:
            return True
        audit_record(
            action=f"{object_type}.resend_stopped",
            outcome="failure",
            object_type=object_type,
            object_id=object_id,
            reason=reason,
            data={"step": step, "idempotency_key": idempotency_key},
        )
    logger.error(
        "processor_resend_stopped", extra={"object": object_id, "step": step, "reason": reason}
    )
    return True
