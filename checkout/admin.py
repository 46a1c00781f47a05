"""Admin registrations of every checkout domain (Django's autodiscovery imports this module)."""

from checkout.billing import admin as billing_admin
from checkout.customers import admin as customers_admin
from checkout.payments import admin as payments_admin
from checkout.relay import admin as relay_admin
from checkout.sessions import admin as sessions_admin
from checkout.webhooks import admin as webhooks_admin

__all__ = [
    "billing_admin",
    "customers_admin",
    "payments_admin",
    "relay_admin",
    "sessions_admin",
    "webhooks_admin",
]
