"""``manage.py verify_audit_chain``: recompute the hash chain and name the first broken link.

Exit status 0 when the chain is intact, 1 (CommandError) otherwise, so a cron job or CI step
can alert on it. The head hash printed on success is worth recording outside the database
(ticket, log archive): it lets a later run prove that no rows were cut off the end.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from monitoring.audit import chain_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; report the first broken row."

    def handle(self, *args: Any, **options: Any) -> None:
        report = chain_verify()
        if not report.ok:
            raise CommandError(
                f"audit chain broken at event id={report.broken_at}: {report.problem} "
                f"({report.checked} events before it verified)"
            )
        self.stdout.write(f"audit chain intact: {report.checked} events, head {report.head_hash}")
