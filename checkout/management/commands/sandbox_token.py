"""``manage.py sandbox_token``: a vault token for one of the public test cards, to try the API
on ``make run`` before the hosted checkout exists in your integration.

The card numbers stay in ``tests/data/cards.json`` (``SANDBOX_TEST_CARDS``); this command only
picks one by outcome. Refused unless the configured processor is the sandbox, so it can never
put a test card into a live setup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from payments_site.kernel.jsontext import json_parse
from vault.cards import card_validate
from vault.models import Merchant
from vault.services import token_create


class Command(BaseCommand):
    help = "Create a token from a public test card (sandbox processor only); prints its id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--outcome",
            default="approve",
            help=(
                "approve, decline_at_capture (authorised, refused at capture), or a decline "
                "code: card_declined, insufficient_funds, …"
            ),
        )
        parser.add_argument("--merchant", help="Merchant id (default: the demo merchant).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.PROCESSOR_BACKEND.endswith(".SandboxProcessor"):
            raise CommandError("Test cards are for the sandbox processor only.")
        cards = json_parse(Path(settings.SANDBOX_TEST_CARDS).read_text())
        outcome = options["outcome"]
        if outcome == "approve":
            number = cards["approve"][0]["number"]
        elif outcome == "decline_at_capture":
            number = cards["decline_at_capture"][0]["number"]
        else:
            found = [c["number"] for c in cards["decline"] if c["failure_code"] == outcome]
            if not found:
                codes = ", ".join(c["failure_code"] for c in cards["decline"])
                raise CommandError(
                    f"Unknown outcome; use approve, decline_at_capture or one of: {codes}"
                )
            number = found[0]
        merchants = Merchant.objects.filter(is_active=True)
        merchant = (
            merchants.filter(pk=options["merchant"]).first()
            if options["merchant"]
            else merchants.filter(name="Demo Store").first()
        )
        if merchant is None:
            raise CommandError("No such active merchant (run `make run` once, or pass --merchant).")
        card = card_validate(number=number, exp_month=12, exp_year=2034, require_cvc=False)
        # Sandbox cards are test-mode cards: the token is a test-mode token.
        token = token_create(merchant=merchant.in_mode(False), card=card, actor="cli:sandbox_token")
        self.stdout.write(token.id)
