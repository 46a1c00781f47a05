"""``manage.py suspend_merchant mer_… [--reactivate] [--reason …]``: stop (or resume) every
money movement of one merchant, audited."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vault.merchants import merchant_reactivate, merchant_suspend
from vault.models import Merchant


class Command(BaseCommand):
    help = (
        "Suspend a merchant: API writes 403 merchant_suspended (reads work), hosted pages take "
        "no card, renewals and dunning skip it. --reactivate resumes; missed renewals are not "
        "back-billed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("merchant_id")
        parser.add_argument("--reactivate", action="store_true", help="Resume instead.")
        parser.add_argument("--reason", default="", help="Recorded in the audit trail.")

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = Merchant.objects.filter(pk=options["merchant_id"]).first()
        if merchant is None:
            raise CommandError(f"No merchant {options['merchant_id']!r}.")
        actor = "cli:suspend_merchant"
        if options["reactivate"]:
            merchant_reactivate(merchant=merchant, actor=actor, reason=options["reason"])
            self.stdout.write(f"{merchant.pk} reactivated")
        else:
            merchant_suspend(merchant=merchant, actor=actor, reason=options["reason"])
            self.stdout.write(f"{merchant.pk} suspended")
