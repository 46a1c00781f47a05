"""``manage.py seal_card --merchant mer_…`` < card.json: print a sealed card JWT.

For smoke-testing a vault deployment: ``… | curl --data-binary @- -H 'Content-Type:
application/jwt' https://vault…/vault/v1/cards``. The card JSON is ARCHITECTURE.md §4's.
"""

from __future__ import annotations

import secrets
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from checkout.sessions.transport import card_encrypt, card_seal
from payments_site.kernel.jsontext import json_parse
from vault.models import Merchant


class Command(BaseCommand):
    help = "Read card JSON on stdin, print a sealed card JWT for the configured vault audience."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True, help="mer_… id of the merchant")
        parser.add_argument(
            "--live", action="store_true", help="seal for live mode (default: test mode)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        merchant_id = options["merchant"]
        if not Merchant.objects.filter(pk=merchant_id, is_active=True).exists():
            raise CommandError(f"No active merchant {merchant_id!r}.")
        try:
            card = json_parse(sys.stdin.read())
        except ValueError as exc:
            raise CommandError("stdin must be one card as JSON (ARCHITECTURE.md §4).") from exc
        if not isinstance(card, dict):
            raise CommandError("stdin must be one card as a JSON object.")
        # A smoke test has no checkout session: mint a one-off session id and nonce so the
        # vault's session binding is exercised exactly as for the hosted page.
        session_id, nonce = f"cli_{secrets.token_urlsafe(12)}", secrets.token_urlsafe(16)
        jwe_token = card_encrypt(card, session_id=session_id, nonce=nonce)
        self.stdout.write(
            card_seal(
                jwe_token,
                session_id=session_id,
                nonce=nonce,
                merchant_id=merchant_id,
                livemode=bool(options["live"]),
            )
        )
