"""Celery tasks of hosted checkout (run by beat; see ``CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task

from checkout.sessions.expiry import checkout_sessions_expire as _checkout_sessions_expire


@shared_task(name="checkout.tasks.checkout_sessions_expire")
def checkout_sessions_expire() -> int:
    """Expire, and announce once, the open sessions past ``expires_at`` that nobody read."""
    return _checkout_sessions_expire()


__all__ = ["checkout_sessions_expire"]
