"""Models of every monitoring job: Django's model discovery imports this module. Code imports
each model from its job (``monitoring.audit.models``, ``monitoring.security.models``)."""

from monitoring.audit.models import AuditEvent, AuditSeal
from monitoring.security.models import RecoveryCodeDevice, SecurityAlert

__all__ = ["AuditEvent", "AuditSeal", "RecoveryCodeDevice", "SecurityAlert"]
