"""The audit trail as plain data: what ``export_audit`` writes and what ``verify.py`` reads.

One JSON object per line: ``{"type": "event", …}`` and ``{"type": "seal", …}``. The live check
(``verify_audit_chain``) feeds the verifier these same objects straight from the database, so
an archive and the database are judged by one function.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Q

from monitoring.audit.canonical import canonical_ip, canonical_time
from monitoring.audit.models import AuditEvent, AuditSeal

CHUNK = 2000


def event_as_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "type": "event",
        "id": event.id,
        "occurred_at": canonical_time(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "reason": event.reason,
        "source_ip": canonical_ip(event.source_ip),
        "request_id": event.request_id,
        "data": event.data,
        "digest": event.digest,
    }


def seal_as_json(seal: AuditSeal) -> dict[str, Any]:
    return {
        "type": "seal",
        "number": seal.number,
        "low_id": seal.low_id,
        "high_id": seal.high_id,
        "events": seal.events,
        "prev_hash": seal.prev_hash,
        "hash": seal.hash,
        "sealed_at": canonical_time(seal.sealed_at),
        "key_id": seal.key_id,
        "signature": seal.signature,
    }


def trail_events(*, low_id: int = 0, high_id: int | None = None) -> Iterator[dict[str, Any]]:
    """Events with ``low_id < id <= high_id`` in id order, in chunks (memory stays flat)."""
    rows = AuditEvent.objects.filter(id__gt=low_id)
    if high_id is not None:
        rows = rows.filter(id__lte=high_id)
    for event in rows.order_by("id").iterator(chunk_size=CHUNK):
        yield event_as_json(event)


def trail_seals(*, first: int = 1, last: int | None = None) -> Iterator[dict[str, Any]]:
    rows = AuditSeal.objects.filter(number__gte=first)
    if last is not None:
        rows = rows.filter(number__lte=last)
    for seal in rows.order_by("number").iterator(chunk_size=200):
        yield seal_as_json(seal)


def _merged(first: int, last: int) -> Iterator[dict[str, Any]]:
    """Seals ``first``..``last``, each followed by the events of its range: two streams read
    in chunks, not a query per seal."""
    low, _ = AuditSeal.objects.values_list("low_id", "high_id").get(number=first)
    _, high = AuditSeal.objects.values_list("low_id", "high_id").get(number=last)
    events = trail_events(low_id=low, high_id=high)
    pending = next(events, None)
    for seal in trail_seals(first=first, last=last):
        yield seal
        while pending is not None and pending["id"] <= seal["high_id"]:
            yield pending
            pending = next(events, None)


def export_lines(*, since_id: int, until_id: int | None) -> Iterator[dict[str, Any]]:
    """Whole seals around the events ``since_id <= id < until_id``: every seal that covers one
    of them and the seals up to the next signed one, each followed by its events; then the
    events in range above the newest seal (unsealed).

    Whole seals, so that each verifies; a signed seal last, so the export vouches for itself.
    """
    covering = AuditSeal.objects.filter(high_id__gte=since_id)
    if until_id is not None:
        covering = covering.filter(low_id__lt=until_id - 1)
    numbers = covering.order_by("number").values_list("number", flat=True)
    first, last_covering = numbers.first(), numbers.last()
    if first is not None and last_covering is not None:
        signed = (
            AuditSeal.objects.filter(number__gte=last_covering)
            .filter(~Q(signature=""))
            .order_by("number")
            .values_list("number", flat=True)
            .first()
        )
        yield from _merged(first, signed or last_covering)
    head_high = AuditSeal.objects.order_by("-number").values_list("high_id", flat=True).first()
    for event in trail_events(low_id=max(head_high or 0, since_id - 1)):
        if until_id is not None and event["id"] >= until_id:
            break
        yield event
