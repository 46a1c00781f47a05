"""Celery tasks of the billing runner. Each is safe to run twice (at-least-once delivery):
the services they call are idempotent by construction (see services.py).

``now`` travels as an ISO 8601 string so a driver (tests, ``run_billing --now``) can bill a
simulated calendar; beat sends none and workers use the configured clock.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task

from checkout.billing.events import SubscriptionCreated
from checkout.billing.services import pending_reconcile, subscription_bill, subscriptions_due

logger = logging.getLogger(__name__)


def _parse(now: str | None) -> datetime | None:
    return datetime.fromisoformat(now) if now else None


@shared_task(name="checkout.tasks.bill_subscription")
def bill_subscription(
    subscription_id: str, now: str | None = None, api_client: str | None = None
) -> str | None:
    charge = subscription_bill(
        subscription_id=subscription_id, now=_parse(now), api_client=api_client
    )
    return charge.id if charge else None


@shared_task(name="checkout.tasks.billing_enqueue_due")
def billing_enqueue_due(now: str | None = None, limit: int = 1000) -> int:
    """Beat: one task per due subscription. Enqueuing one twice is harmless."""
    ids = subscriptions_due(now=_parse(now), limit=limit)
    for subscription_id in ids:
        bill_subscription.delay(subscription_id, now)
    return len(ids)


@shared_task(name="checkout.tasks.charges_reconcile")
def charges_reconcile(now: str | None = None) -> int:
    return pending_reconcile(now=_parse(now))


def bill_first_period(event: SubscriptionCreated) -> None:
    """Subscribed to ``SubscriptionCreated``: a period 0 due now goes to the runner once the
    subscription is committed (inline when there is no broker). A broker that does not answer
    is logged, not raised (the caller's subscription exists), and the beat's
    ``billing_enqueue_due`` pass bills the still-due period within a minute."""
    if not event.first_period_due:
        return
    try:
        bill_subscription.delay(event.subscription_id, None, event.api_client or None)
    except Exception:
        logger.exception(
            "subscription_enqueue_failed", extra={"subscription": event.subscription_id}
        )


__all__ = ["bill_first_period", "bill_subscription", "billing_enqueue_due", "charges_reconcile"]
