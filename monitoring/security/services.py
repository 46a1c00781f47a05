"""What operators do with security alerts."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from monitoring.audit.services import audit_record
from monitoring.security.models import SecurityAlert


def alert_acknowledge(*, alert: SecurityAlert, actor: str, note: str = "") -> SecurityAlert:
    """Mark an open alert as seen by an operator (idempotent) and record who did it."""
    if alert.status == SecurityAlert.Status.ACKNOWLEDGED:
        return alert
    alert.status = SecurityAlert.Status.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = actor[:200]
    if note:
        alert.note = note
    with transaction.atomic():
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "note"])
        audit_record(
            action="security_alert.acknowledge",
            actor=actor,
            object_type="security_alert",
            object_id=str(alert.pk),
            reason=alert.rule[:100],
        )
    return alert
