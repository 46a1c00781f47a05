"""Celery tasks of webhook delivery. Each is safe to run twice: an attempt starts by claiming
its delivery row (``delivery.py``), so a duplicated message finds nothing due.

``now`` travels as an ISO 8601 string so a driver (tests, ``deliver_webhooks --now``) can run
a simulated calendar; beat sends none and workers use the configured clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from celery import shared_task

from checkout.clock import clock_now
from checkout.webhooks.delivery import (
    DeliveriesDue,
    deliveries_due,
    delivery_attempt,
)
from checkout.webhooks.events import events_purge as _events_purge
from checkout.webhooks.secrets import secrets_purge

logger = logging.getLogger(__name__)


def _parse(now: str | None) -> datetime | None:
    return datetime.fromisoformat(now) if now else None


@shared_task(name="checkout.webhooks.deliver")
def deliver_webhook(delivery_id: int, now: str | None = None) -> int | None:
    """One attempt of one delivery, if it is due. Returns the attempt's number or None."""
    attempt = delivery_attempt(delivery_id=delivery_id, now=_parse(now))
    return attempt.sequence if attempt else None


@shared_task(name="checkout.webhooks.enqueue_due")
def webhooks_enqueue_due(now: str | None = None, limit: int = 1000) -> int:
    """Beat: one task per due delivery (retries, and anything whose first hand-off was lost);
    also destroys signing secrets whose roll-over overlap has ended."""
    moment = clock_now(_parse(now))
    secrets_purge(now=moment)
    ids = deliveries_due(now=moment, limit=limit)
    deliveries_enqueue(ids, now=_parse(now))
    return len(ids)


@shared_task(name="checkout.webhooks.events_purge")
def events_purge(now: str | None = None) -> int:
    """Beat (hourly): forget events past their retention, with their deliveries and attempts."""
    return _events_purge(now=_parse(now))


def deliveries_enqueue(ids: Iterable[int], now: datetime | None = None) -> None:
    """Hand deliveries to Celery (inline without a broker). A failure to enqueue is logged,
    not raised: the rows stay due and the next pass hands them out again."""
    when = now.isoformat() if now else None
    for delivery_id in ids:
        try:
            deliver_webhook.delay(delivery_id, when)
        except Exception:
            logger.exception("webhook_enqueue_failed", extra={"delivery": delivery_id})


def deliveries_hand_off(event: DeliveriesDue) -> None:
    """Subscribed to ``DeliveriesDue``: once the deliveries are committed, to the workers."""
    deliveries_enqueue(event.delivery_ids)


__all__ = [
    "deliver_webhook",
    "deliveries_enqueue",
    "deliveries_hand_off",
    "events_purge",
    "webhooks_enqueue_due",
]
