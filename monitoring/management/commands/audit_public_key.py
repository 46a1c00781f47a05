"""``manage.py audit_public_key``: the audit signing key's public half (PEM) and its id.

Keep it with the archives: ``verify_audit_chain --export FILE --public-key KEY.pem`` needs
nothing else. The id is the SHA-256 of the key (DER), the ``key_id`` every signed seal names.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from monitoring.audit.signing import SigningUnavailable, head_signer


class Command(BaseCommand):
    help = "Print the audit signing key's public key (PEM); its key id goes to standard error."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            signer = head_signer()
            pem = signer.public_pem
        except SigningUnavailable as exc:
            raise CommandError(f"the audit signing key cannot be used: {exc}") from exc
        self.stdout.write(pem, ending="")
        self.stderr.write(f"key id {signer.key_id}")
