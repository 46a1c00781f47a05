"""What operators do with security alerts."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from monitoring.audit.services import audit_record
from monitoring.security.models import SecurityAlert


def alert_acknowledge(*, alert: SecurityAlert, actor: str, note: str = "") -> SecurityAlert:
    """Mark an open alert as seen by an operator and record who did it, with their note.

    Idempotent and race-safe: one conditional UPDATE, so two operators acknowledging at once
    produce one acknowledgement and one audit event.
    """
    now = timezone.now()
    changes: dict[str, object] = {
        "status": SecurityAlert.Status.ACKNOWLEDGED,
        "acknowledged_at": now,
        "acknowledged_by": actor[:200],
    }
    if note:
        changes["note"] = note
    with transaction.atomic():
        won = SecurityAlert.objects.filter(pk=alert.pk, status=SecurityAlert.Status.OPEN).update(
            **changes
        )
        if won:
            audit_record(
                action="security_alert.acknowledge",
                actor=actor,
                object_type="security_alert",
                object_id=str(alert.pk),
                reason=alert.rule[:100],
                data={"note": note} if note else None,
            )
    alert.refresh_from_db()
    return alert
