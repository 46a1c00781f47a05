"""``manage.py kms_bootstrap``: create Tessera's KMS keys (the vault's four and the audit
trail's signing key) and their aliases, print the settings.

Idempotent: aliases that exist are reused, so it is safe to run on every deploy. Uses the same
region, endpoint and credentials as the application (``AWS_REGION``, ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vault.keys.aws import AwsKmsConfig, kms_bootstrap, kms_client


class Command(BaseCommand):
    help = "Create (idempotently) the sign, jwe, vault, fingerprint and audit KMS keys and aliases."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--alias-prefix",
            default="alias/tessera",
            help=(
                "Aliases are <prefix>-sign, -jwe, -vault, -fingerprint, -audit "
                "(default: alias/tessera)."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = AwsKmsConfig.from_settings()
        client = kms_client(config)
        values = kms_bootstrap(client=client, alias_prefix=options["alias_prefix"])
        self.stderr.write(f"KMS keys ready in {config.region}. Settings to use:")
        self.stdout.write("KEYS_BACKEND=aws")
        self.stdout.write(f"AWS_REGION={config.region}")
        if config.endpoint_url:
            self.stdout.write(f"AWS_ENDPOINT_URL={config.endpoint_url}")
        for name, value in values.items():
            self.stdout.write(f"{name}={value}")
