"""``manage.py reconcile_charges``: settle charges and refunds left pending by lost answers."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from checkout.billing.services import pending_reconcile


class Command(BaseCommand):
    help = "Settle pending charges and refunds through the processor's idempotency."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"reconciled {pending_reconcile()}")
