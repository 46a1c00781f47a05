"""``manage.py run_billing``: one billing pass, cron-friendly, no broker needed.

Bills every due subscription in this process, then reconciles stale pending charges. Safe to
run while Celery workers and other passes run: each subscription period is charged once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from checkout.billing.services import pending_reconcile, subscription_bill, subscriptions_due
from checkout.clock import clock_now


def _aware(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise CommandError("--now needs a time zone, e.g. 2030-01-31T00:00:00+00:00")
    return moment


class Command(BaseCommand):
    help = "Bill due subscriptions once (and reconcile pending charges)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", type=_aware, help="Bill as of this ISO 8601 time.")
        parser.add_argument("--limit", type=int, default=1000, help="Subscriptions per pass.")
        parser.add_argument("--no-reconcile", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        now = clock_now(options["now"])
        billed = failed = 0
        for subscription_id in subscriptions_due(now=now, limit=options["limit"]):
            charge = subscription_bill(subscription_id=subscription_id, now=now)
            if charge is None:
                continue
            billed += 1
            failed += charge.status == charge.Status.FAILED
        reconciled = 0 if options["no_reconcile"] else pending_reconcile(now=now)
        self.stdout.write(f"billed {billed} (failed {failed}), reconciled {reconciled}")
