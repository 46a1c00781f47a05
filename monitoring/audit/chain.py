"""The audit trail's hash chain and its append-only guard (PCI DSS 10.2, 10.3.2, 10.5).

Each ``AuditEvent`` stores ``prev_hash`` (the previous row's ``hash``) and ``hash`` = SHA-256
over the canonical JSON of its own content plus ``prev_hash``. Changing, removing or inserting
a row therefore breaks the link at that row, and ``chain_verify`` names it.

Writers are serialised so the chain never forks: on PostgreSQL a transaction-scoped advisory
lock (released at commit, so the order of rows is the order of commits); on SQLite the
database-wide write lock that ``BEGIN IMMEDIATE`` (our ``transaction_mode``) takes up front.

The database refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) with triggers (migration
0002). The guard can be lifted only by ``audit_guard_lifted()``, and on PostgreSQL only by the
table's owner, who could drop the triggers anyway: lifting it is explicit and never happens in
the application. The test harness lifts it around Django's flush between transactional tests
(see ``tests/monitoring/support.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection as default_connection
from django.db import transaction

from monitoring.audit.canonical import (
    ADVISORY_LOCK_KEY,
    FIELD_LIMITS,
    GENESIS,
    canonical_ip,
    canonical_json,
    event_digest,
)
from monitoring.audit.models import AuditEvent
from payments_site.kernel.jsontext import json_parse

logger = logging.getLogger(__name__)


def row_digest(event: AuditEvent) -> str:
    """The hash ``event`` should carry, recomputed from what the database holds now."""
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
        prev_hash=event.prev_hash,
    )


def _lock_chain_head() -> None:
    if default_connection.vendor == "postgresql":
        with default_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
    # SQLite: the transaction already holds the database write lock (BEGIN IMMEDIATE). Should a
    # deployment ever use deferred transactions, WAL turns a racing write into SQLITE_BUSY
    # rather than a forked chain, so the chain stays linear either way.


def chain_head_hash() -> str:
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    return last or GENESIS


def chain_append(
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
    """Insert one event at the head of the chain (inside the caller's transaction, if any)."""
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
    # What we hash must be exactly what JSON storage gives back (tuples become lists...).
    fields["data"] = json_parse(canonical_json(dict(data)))
    with transaction.atomic():
        _lock_chain_head()
        prev_hash = chain_head_hash()
        digest = event_digest(**fields, prev_hash=prev_hash)
        return AuditEvent.objects.create(**fields, prev_hash=prev_hash, hash=digest)


@dataclass(frozen=True)
class ChainReport:
    """Outcome of a verification: ``broken_at`` is the id of the first bad row, if any.
    ``head`` is ``"<id>:<hash>"`` of the last verified row: the anchor to record elsewhere."""

    checked: int
    head_hash: str
    head_id: int = 0
    broken_at: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None

    @property
    def head(self) -> str:
        return f"{self.head_id}:{self.head_hash}"


def chain_verify(
    *, chunk_size: int = 2000, anchors: Mapping[int, str] | None = None
) -> ChainReport:
    """Walk the whole chain in id order and stop at the first row that does not fit.

    ``anchors`` (event id → hash) are heads recorded outside the database earlier (the log
    archive, ``audit_chain_anchor``; a ticket). The chain alone cannot reveal newest rows
    deleted, or every hash recomputed after a rewrite; an anchor that is gone or differs can.
    """
    anchors = dict(anchors or {})
    expected_prev, head_id, checked = GENESIS, 0, 0

    def broken(event_id: int, problem: str) -> ChainReport:
        return ChainReport(
            checked=checked,
            head_hash=expected_prev,
            head_id=head_id,
            broken_at=event_id,
            problem=problem,
        )

    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size):
        if event.prev_hash != expected_prev:
            return broken(
                event.id,
                "prev_hash does not match the previous row: a row before it was "
                "removed, inserted or rewritten",
            )
        if row_digest(event) != event.hash:
            return broken(event.id, "content does not match its hash: this row was altered")
        if anchors.pop(event.id, event.hash) != event.hash:
            return broken(
                event.id,
                "hash differs from the anchor recorded for this row: the chain up to here "
                "was rewritten and rehashed",
            )
        expected_prev, head_id = event.hash, event.id
        checked += 1
    if anchors:
        return broken(
            min(anchors),
            "an anchored row is gone: rows were cut off the end of the chain",
        )
    return ChainReport(checked=checked, head_hash=expected_prev, head_id=head_id)


def chain_anchor_log() -> str:
    """Write the chain's head (``id:hash``) to the log, whose archive lives outside the
    database: a later ``verify_audit_chain --anchor`` against it catches what the chain alone
    cannot. Returns the anchor (``0:<genesis>`` for an empty trail)."""
    head = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
    anchor = f"{head[0]}:{head[1]}" if head else f"0:{GENESIS}"
    logger.info("audit_chain_head", extra={"anchor": anchor})
    return anchor
