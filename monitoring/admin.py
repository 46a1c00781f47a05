"""Admin registrations of every monitoring job (Django's autodiscovery imports this module)."""

from monitoring.security import admin as security_admin  # noqa: F401
