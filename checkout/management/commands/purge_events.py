"""``manage.py purge_events``: drop webhook events past their retention (cron or Celery beat)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from checkout.webhooks.events import events_purge


class Command(BaseCommand):
    help = (
        "Delete webhook events older than WEBHOOK_EVENT_RETENTION_DAYS (at least 30), with "
        "their finished deliveries and attempts."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        purged = events_purge()
        self.stdout.write(f"purged {purged} events")
