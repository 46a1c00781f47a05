"""Admin registrations of every monitoring job (Django's autodiscovery imports this module)."""

from monitoring.audit import admin as audit_admin
from monitoring.security import admin as security_admin

__all__ = ["audit_admin", "security_admin"]
