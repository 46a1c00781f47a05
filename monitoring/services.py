"""Writing the audit trail. Callers hand over ids and codes; ``data`` is redacted again here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from .context import current_request_id, current_source_ip
from .models import AuditEvent
from .redaction import redact


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
    """Append one event; request id and source IP come from the current request, if any."""
    return AuditEvent.objects.create(
        occurred_at=timezone.now(),
        actor=actor[:200],
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        reason=reason,
        source_ip=current_source_ip(),
        request_id=current_request_id() or "",
        data=redact(dict(data or {})),
    )
