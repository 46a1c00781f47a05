"""Admin registrations of every checkout domain (Django's autodiscovery imports this module)."""

from checkout.payments import admin as payments_admin  # noqa: F401
