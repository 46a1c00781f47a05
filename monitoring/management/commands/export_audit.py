"""``manage.py export_audit --since 2026-01-01 [--until …] [--output FILE]``: JSON Lines.

One object per event, oldest first, with ``prev_hash`` and ``hash``, so an archive (PCI DSS
10.5.1 keeps 12 months, 3 of them at hand) can be verified on its own, long after the rows
were purged from the database. Streams in chunks; memory stays flat on large ranges.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, time
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime

from monitoring.audit.canonical import canonical_ip, canonical_time
from monitoring.audit.models import AuditEvent


def _moment(value: str) -> datetime:
    """An ISO date (midnight UTC) or an ISO datetime (naive means UTC)."""
    parsed: datetime | date | None = parse_datetime(value) or parse_date(value)
    if parsed is None:
        raise CommandError(f"Not an ISO date or datetime: {value!r}")
    if not isinstance(parsed, datetime):
        parsed = datetime.combine(parsed, time.min)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def event_as_json(event: AuditEvent) -> dict[str, Any]:
    return {
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
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


class Command(BaseCommand):
    help = "Export audit events as JSON Lines for archiving."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="ISO date or datetime (inclusive)")
        parser.add_argument("--until", help="ISO date or datetime (exclusive)")
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        events = AuditEvent.objects.filter(occurred_at__gte=_moment(options["since"]))
        if options["until"]:
            events = events.filter(occurred_at__lt=_moment(options["until"]))
        out: IO[str]
        out = open(options["output"], "w", encoding="utf-8") if options["output"] else sys.stdout  # noqa: SIM115
        count = 0
        try:
            for event in events.order_by("id").iterator(chunk_size=2000):
                out.write(json.dumps(event_as_json(event), sort_keys=True, ensure_ascii=False))
                out.write("\n")
                count += 1
        finally:
            if out is not sys.stdout:
                out.close()
        self.stderr.write(f"exported {count} audit events")
