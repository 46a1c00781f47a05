"""``manage.py purge_idempotency_keys``: drop keys past their retention (cron or Celery beat)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from checkout.payments.idempotency.services import idempotency_purge


class Command(BaseCommand):
    help = "Delete idempotency keys older than IDEMPOTENCY_KEY_TTL_HOURS (at least 24 h)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = idempotency_purge()
        self.stdout.write(f"purged {deleted} idempotency keys")
