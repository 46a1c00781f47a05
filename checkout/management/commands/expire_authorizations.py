"""``manage.py expire_authorizations``: release authorizations left uncaptured too long."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from checkout.payments.authorizations import charges_expire


class Command(BaseCommand):
    help = "Release authorizations not captured within AUTHORIZATION_TTL_HOURS."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"expired {charges_expire()}")
