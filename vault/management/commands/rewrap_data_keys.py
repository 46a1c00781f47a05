"""``manage.py rewrap_data_keys``: re-wrap every data key under the current VAULT key version.

One KMS ReEncrypt per data key, in batches; card ciphertexts are never read or rewritten, so
the cost grows with the number of data keys, not cards. Interrupted runs resume where they
stopped. ``--rotate`` makes a new key version current first; ``--retire KEY_ID VERSION``
retires an old version once nothing depends on it (on the local backend its material is
destroyed; on KMS, disable or schedule the deletion of a key you migrated away from).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payments_site.kernel.errors import DomainError
from vault.services import (
    RewrapProgress,
    data_keys_rewrap,
    vault_key_rotate,
    vault_key_version_retire,
)

ACTOR = "cli:rewrap_data_keys"


class Command(BaseCommand):
    help = "Re-wrap all data keys under the current VAULT key (KMS ReEncrypt), resumably."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument("--restart", action="store_true", help="Abandon an unfinished run.")
        parser.add_argument(
            "--rotate", action="store_true", help="Rotate the VAULT key to a new version first."
        )
        parser.add_argument(
            "--retire",
            nargs=2,
            metavar=("KEY_ID", "VERSION"),
            help="After re-wrapping, retire this key version (refused while still in use).",
        )

    def _bar(self, progress: RewrapProgress) -> None:
        width = 30
        filled = width * progress.done // progress.total if progress.total else width
        bar = "#" * filled + "." * (width - filled)
        self.stderr.write(f"\r[{bar}] {progress.done}/{progress.total} data keys", ending="")
        self.stderr.flush()

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["rotate"]:
                version = vault_key_rotate(actor=ACTOR)
                self.stdout.write(f"VAULT key rotated; current version: {version or '(KMS)'}")
            run = data_keys_rewrap(
                actor=ACTOR,
                batch_size=max(1, options["batch_size"]),
                restart=options["restart"],
                progress=self._bar,
            )
            self.stderr.write("")
            self.stdout.write(f"Re-wrapped {run.rewrapped} data key(s).")
            if options["retire"]:
                key_id, key_version = options["retire"]
                vault_key_version_retire(key_id=key_id, key_version=key_version, actor=ACTOR)
                self.stdout.write(f"Retired {key_id} version {key_version}.")
        except DomainError as error:
            raise CommandError(error.message) from error
