"""``manage.py mfa_enrolment_link USER [--origin https://pay.example.com]`` (default: the
``PUBLIC_ORIGIN`` setting): a new staff
member's enrolment link. The page still asks for the password; the link stops working once
a device is confirmed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.security.mfa import mfa_enrolment_url


class Command(BaseCommand):
    help = "Print a staff user's two-factor enrolment link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        # PUBLIC_ORIGIN: under `make run`, https://localhost:<its PORT>.
        parser.add_argument("--origin", default=settings.PUBLIC_ORIGIN)

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None or not user.is_staff or not user.is_active:
            raise CommandError("No active staff user with that name.")
        self.stdout.write(options["origin"].rstrip("/") + mfa_enrolment_url(user=user))
