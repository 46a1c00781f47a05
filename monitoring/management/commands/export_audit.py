"""``manage.py export_audit --since 2026-01-01 [--until …] [--output FILE]``: JSON Lines.

The events from the first one at or after ``--since`` up to the first one at or after
``--until``, widened to whole seals: each seal line is followed by the events it covers, and
the export runs to a signed seal (it seals and signs first), so an archive (PCI DSS 10.5.1
keeps 12 months, 3 of them at hand) verifies on its own with only the audit public key
(``verify_audit_chain --export FILE --public-key KEY.pem``), long after the rows were purged.
Events too recent to seal come last, as the export's unsealed window. Streams in chunks;
memory stays flat on large ranges.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, time
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max
from django.utils.dateparse import parse_date, parse_datetime

from monitoring.audit.export import export_lines
from monitoring.audit.models import AuditEvent
from monitoring.audit.sealer import seal_pending


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


def _first_id_from(moment: datetime) -> int | None:
    return (
        AuditEvent.objects.filter(occurred_at__gte=moment)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )


class Command(BaseCommand):
    help = "Export audit events and the seals that cover them as JSON Lines for archiving."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="ISO date or datetime (inclusive)")
        parser.add_argument("--until", help="ISO date or datetime (exclusive)")
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        since = _moment(options["since"])
        until = _moment(options["until"]) if options["until"] else None
        seal_pending(sign=True)
        beyond = (AuditEvent.objects.aggregate(high=Max("id"))["high"] or 0) + 1
        since_id = _first_id_from(since) or beyond
        until_id = (_first_id_from(until) or beyond) if until else None
        out: IO[str]
        out = open(options["output"], "w", encoding="utf-8") if options["output"] else sys.stdout  # noqa: SIM115
        counts = {"event": 0, "seal": 0}
        try:
            for line in export_lines(since_id=since_id, until_id=until_id):
                out.write(json.dumps(line, sort_keys=True, ensure_ascii=False))
                out.write("\n")
                counts[line["type"]] += 1
        finally:
            if out is not sys.stdout:
                out.close()
        self.stderr.write(f"exported {counts['event']} audit events in {counts['seal']} seals")
