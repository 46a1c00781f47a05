"""``manage.py rekey_fingerprints``: move tokens' version 1 fingerprints to the current one.

Until it has run, de-duplication still matches version 1 tokens (at one KMS call per
de-duplicating create); afterwards no card costs a KMS call for its fingerprint.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vault.services import fingerprints_rekey


class Command(BaseCommand):
    help = "Re-key version 1 card fingerprints under the per-merchant subkeys (resumable)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args: Any, **options: Any) -> None:
        done = fingerprints_rekey(
            actor="manage:rekey_fingerprints", batch_size=options["batch_size"]
        )
        self.stdout.write(f"Re-keyed {done} fingerprints.")
