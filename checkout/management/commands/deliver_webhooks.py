"""``manage.py deliver_webhooks [--now ISO] [--limit N]``: one delivery pass in this process.

For deployments without a broker (cron every minute), and for operators: every delivery whose
next attempt is due is attempted once. Safe next to workers and other passes (each attempt
claims its delivery first).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from checkout.clock import clock_now
from checkout.webhooks.delivery import deliveries_run
from checkout.webhooks.secrets import secrets_purge


class Command(BaseCommand):
    help = "Attempt every webhook delivery that is due (and destroy expired signing secrets)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", help="ISO 8601 time to act as of (default: now).")
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        now = None
        if options["now"]:
            try:
                now = datetime.fromisoformat(options["now"])
            except ValueError as exc:
                raise CommandError("--now must be an ISO 8601 time with a zone.") from exc
            if now.tzinfo is None:
                raise CommandError("--now must be an ISO 8601 time with a zone.")
        moment = clock_now(now)
        purged = secrets_purge(now=moment)
        made = deliveries_run(now=moment, limit=options["limit"])
        self.stdout.write(f"{made} attempt(s) made, {purged} expired secret(s) destroyed.")
