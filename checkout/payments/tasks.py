"""Celery tasks of payments (run by beat; see ``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task

from checkout.payments.authorizations import charges_expire as _charges_expire
from checkout.payments.idempotency.services import idempotency_purge as _idempotency_purge


@shared_task(name="checkout.tasks.idempotency_purge")
def idempotency_purge() -> int:
    return _idempotency_purge()


@shared_task(name="checkout.tasks.authorizations_expire")
def authorizations_expire() -> int:
    """Release the authorizations past their ``authorization_expires_at``."""
    return _charges_expire()


__all__ = ["authorizations_expire", "idempotency_purge"]
