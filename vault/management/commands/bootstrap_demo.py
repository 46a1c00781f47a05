"""First-run demo data for ``make run``: an admin user and a merchant with a test key.

Printed once, at creation. Running it again creates nothing and prints nothing secret.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from monitoring.security.mfa import mfa_enrolment_url, mfa_has_device
from vault.merchants import api_key_create, merchant_create
from vault.models import Merchant

DEMO_ADMIN = "admin"
DEMO_MERCHANT = "Demo Store"


class Command(BaseCommand):
    help = "Create the demo admin and demo merchant on first run; print their secrets once."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        lines: list[str] = []
        origin = settings.PUBLIC_ORIGIN.rstrip("/")
        if not User.objects.filter(username=DEMO_ADMIN).exists():
            password = secrets.token_urlsafe(15)
            User.objects.create_superuser(DEMO_ADMIN, email="", password=password)
            lines.append(f"admin:    {origin}/admin/  user={DEMO_ADMIN}  password={password}")
        # Monitoring: the admin needs a second factor; the link still asks for the password.
        admin_user = User.objects.get(username=DEMO_ADMIN)
        if not mfa_has_device(user=admin_user):
            enrol = f"{origin}{mfa_enrolment_url(user=admin_user)}"
            lines.append(f"2FA:      {enrol}  (open it, then scan the QR code)")
        if not Merchant.objects.filter(name=DEMO_MERCHANT).exists():
            merchant = merchant_create(name=DEMO_MERCHANT, actor="cli:bootstrap_demo")
            issued = api_key_create(merchant=merchant, actor="cli:bootstrap_demo")
            lines.append(f"merchant: {merchant.id}  api_key={issued.secret}")
        if lines:
            self.stdout.write("\n== Tessera demo credentials (shown once; save them now) ==")
            for line in lines:
                self.stdout.write(line)
            self.stdout.write("")
        else:
            self.stdout.write(
                "Demo admin and merchant exist already (their secrets were printed on first "
                "run; `manage.py changepassword admin` or `manage.py create_merchant NAME` "
                "make new ones)."
            )
