"""Writing the audit trail. Callers hand over ids and codes; ``data`` is redacted again here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitoring.audit.chain import event_append
from monitoring.audit.models import AuditEvent
from monitoring.audit.sealer import seal_soon
from monitoring.observability.context import current_request_id, current_source_ip
from monitoring.observability.redaction import redact


def audit_record(
    *,
    action: str,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    actor: str = "system",
    object_type: str = "",
    object_id: str = "",
    reason: str = "",
    data: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event (one INSERT, no lock); request id and source IP come from the current
    request, if any. Runs inside the caller's transaction: the event commits (or not) with
    the change it records. Without a broker (no beat) the sealer runs after commit."""
    event = event_append(
        occurred_at=timezone.now(),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        reason=reason,
        source_ip=current_source_ip(),
        request_id=current_request_id() or "",
        data=redact(data or {}),
    )
    if settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(seal_soon)
    return event
