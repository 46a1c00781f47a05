"""``manage.py create_merchant NAME``: a merchant and its first API key, printed once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vault.merchants import api_key_create, merchant_create
from vault.models import ApiKey


class Command(BaseCommand):
    help = "Create a merchant with one API key; the key is printed once and never again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--live", action="store_true", help="Issue an sk_live_ key.")

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = merchant_create(name=options["name"], actor="cli:create_merchant")
        mode = ApiKey.Mode.LIVE if options["live"] else ApiKey.Mode.TEST
        issued = api_key_create(merchant=merchant, mode=mode, actor="cli:create_merchant")
        self.stdout.write(f"merchant_id={merchant.id}")
        self.stdout.write(f"api_key={issued.secret}")
