"""Celery tasks of webhook delivery. Each is safe to run twice: an attempt starts by claiming
its delivery row (``delivery.py``), so a duplicated message finds nothing due.

``now`` travels as an ISO 8601 string so a driver (tests, ``deliver_webhooks --now``) can run
a simulated calendar; beat sends none and workers use the configured clock.
"""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from checkout.clock import clock_now


def _parse(now: str | None) -> datetime | None:
    return datetime.fromisoformat(now) if now else None


@shared_task(name="checkout.webhooks.deliver")
def deliver_webhook(delivery_id: int, now: str | None = None) -> int | None:
    """One attempt of one delivery, if it is due. Returns the attempt's number or None."""
    from .delivery import delivery_attempt

    attempt = delivery_attempt(delivery_id=delivery_id, now=_parse(now))
    return attempt.sequence if attempt else None


@shared_task(name="checkout.webhooks.enqueue_due")
def webhooks_enqueue_due(now: str | None = None, limit: int = 1000) -> int:
    """Beat: one task per due delivery (retries, and anything whose first hand-off was lost);
    also destroys signing secrets whose roll-over overlap has ended."""
    from .delivery import deliveries_due, deliveries_enqueue
    from .secrets import secrets_purge

    moment = clock_now(_parse(now))
    secrets_purge(now=moment)
    ids = deliveries_due(now=moment, limit=limit)
    deliveries_enqueue(ids, now=_parse(now))
    return len(ids)


@shared_task(name="checkout.webhooks.events_purge")
def events_purge(now: str | None = None) -> int:
    """Beat (hourly): forget events past their retention, with their deliveries and attempts."""
    from .events import events_purge as purge

    return purge(now=_parse(now))
