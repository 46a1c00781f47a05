"""Appending to the audit trail (PCI DSS 10.2, 10.3.2): one INSERT, no lock.

Each ``AuditEvent`` carries ``digest`` = SHA-256 over the canonical JSON of its own content,
computed here from exactly what the database will give back. Nothing links it to another row
at write time, so concurrent writers never wait for one another (a global lock held to commit
serialised every audited write in the system). The sealer (``sealer.py``) later links
committed events into a chain of seals and signs its head; ``verify.py`` checks both.

The database refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) of events and seals with
triggers (migrations 0002 and 0007, ``guard.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from monitoring.audit.canonical import (
    FIELD_LIMITS,
    canonical_ip,
    canonical_json,
    event_digest,
)
from monitoring.audit.models import AuditEvent
from payments_site.kernel.jsontext import json_parse
from payments_site.kernel.rows import row_insert


def row_digest(event: AuditEvent) -> str:
    """The digest ``event`` should carry, recomputed from what the database holds now."""
    return event_digest(
        occurred_at=event.occurred_at,
        actor=event.actor,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        outcome=event.outcome,
        reason=event.reason,
        source_ip=event.source_ip,
        request_id=event.request_id,
        data=event.data,
    )


_SCALARS = (str, int, bool, type(None))


def _as_stored(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as JSON storage gives it back, which is what the digest must cover. A flat
    object of exact strings, integers, booleans and nulls (most events) comes back unchanged,
    so it skips the JSON round trip that everything else takes (tuples become lists, enum
    members plain values, keys strings...)."""
    if all(type(k) is str and type(v) in _SCALARS for k, v in data.items()):
        return dict(data)
    stored: dict[str, Any] = json_parse(canonical_json(dict(data)))
    return stored


def event_append(
    *,
    occurred_at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    outcome: str,
    reason: str,
    source_ip: str | None,
    request_id: str,
    data: Mapping[str, Any],
) -> AuditEvent:
    """Insert one event with its digest (inside the caller's transaction, if any)."""
    fields: dict[str, Any] = {
        "occurred_at": occurred_at.astimezone(UTC),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "outcome": outcome,
        "reason": reason,
        "request_id": request_id,
    }
    for name, limit in FIELD_LIMITS.items():
        fields[name] = str(fields[name])[:limit]
    fields["source_ip"] = canonical_ip(source_ip)
    fields["data"] = _as_stored(data)
    event = AuditEvent(**fields, digest=event_digest(**fields))
    row_insert(event)  # one per audited action: the statement compiled once
    return event
