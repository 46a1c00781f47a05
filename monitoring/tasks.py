"""Celery tasks of every monitoring job (Celery's autodiscovery imports this module)."""

from monitoring.audit.tasks import audit_seal

__all__ = ["audit_seal"]
