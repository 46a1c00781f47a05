"""``manage.py purge_used_jtis``: forget card-JWT ids whose tokens have expired.

Safe at any time: an expired JWT is refused on its ``exp`` before its ``jti`` is looked at,
so a purged id can never be replayed. Run it from cron (hourly is plenty).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from vault.models import UsedJti
from vault.transport.ingest import MAX_LEEWAY_SECONDS


class Command(BaseCommand):
    help = "Delete replay-protection rows of card JWTs that have expired."

    def handle(self, *args: Any, **options: Any) -> None:
        # Keep rows through the leeway too: until then an expired JWT could still be accepted.
        cutoff = timezone.now() - timedelta(seconds=MAX_LEEWAY_SECONDS + 1)
        deleted, _ = UsedJti.objects.filter(expires_at__lt=cutoff).delete()
        self.stdout.write(f"purged {deleted} used card-JWT ids")
