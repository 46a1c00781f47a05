"""``manage.py verify_audit_chain [--anchor ID:HASH …]``: recompute the hash chain and name the
first broken link.

Exit status 0 when the chain is intact, 1 (CommandError) otherwise, so a cron job or CI step
can alert on it. The head (``id:hash``) printed on success, like the ``audit_chain_head`` lines
beat logs, is worth recording outside the database: passed back as ``--anchor`` it proves that
no rows were cut off the end and that the chain was not rewritten and rehashed.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.audit.chain import chain_verify

_ANCHOR = re.compile(r"(?P<id>[0-9]{1,18}):(?P<hash>[0-9a-fA-F]{64})")


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; report the first broken row."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="ID:HASH",
            help="A head recorded earlier (this command's output, an audit_chain_head log "
            "line); repeatable.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        anchors: dict[int, str] = {}
        for value in options["anchor"]:
            match = _ANCHOR.fullmatch(value.strip())
            if match is None:
                raise CommandError(f"--anchor must be ID:HASH (64 hex digits), not {value[:80]!r}")
            if int(match["id"]):  # 0 is the empty trail's head: nothing to check
                anchors[int(match["id"])] = match["hash"].lower()
        report = chain_verify(anchors=anchors)
        if not report.ok:
            raise CommandError(
                f"audit chain broken at event id={report.broken_at}: {report.problem} "
                f"({report.checked} events before it verified)"
            )
        self.stdout.write(f"audit chain intact: {report.checked} events, head {report.head}")
