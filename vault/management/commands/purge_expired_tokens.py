"""``manage.py purge_expired_tokens``: shred every token whose card has expired (run daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from vault.services import tokens_purge_expired


class Command(BaseCommand):
    help = "Revoke and crypto-shred tokens whose card expiry month has passed."

    def handle(self, *args: Any, **options: Any) -> None:
        purged = tokens_purge_expired(actor="cli:purge_expired_tokens")
        self.stdout.write(f"Shredded {purged} expired token(s).")
