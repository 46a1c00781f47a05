"""Celery tasks of payments (run by beat; see ``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task

from checkout.payments.idempotency.services import idempotency_purge as _idempotency_purge


@shared_task(name="checkout.tasks.idempotency_purge")
def idempotency_purge() -> int:
    return _idempotency_purge()


__all__ = ["idempotency_purge"]
