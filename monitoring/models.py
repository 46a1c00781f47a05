"""Models of every monitoring job (Django's model discovery imports this module)."""

from monitoring.security.models import AuditEvent, RecoveryCodeDevice, SecurityAlert

__all__ = ["AuditEvent", "RecoveryCodeDevice", "SecurityAlert"]
