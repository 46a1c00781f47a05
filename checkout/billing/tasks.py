"""Celery tasks of the billing runner. Each is safe to run twice (at-least-once delivery):
the services they call are idempotent by construction (see services/subscriptions.py).

``now`` travels as an ISO 8601 string so a driver (tests, ``run_billing --now``) can bill a
simulated calendar; beat sends none and workers use the configured clock.
"""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from checkout.billing.services import subscription_bill, subscriptions_due
from checkout.payments.idempotency.services import idempotency_purge as _idempotency_purge
from checkout.payments.services import charges_reconcile as _charges_reconcile


def _parse(now: str | None) -> datetime | None:
    return datetime.fromisoformat(now) if now else None


@shared_task(name="checkout.tasks.bill_subscription")
def bill_subscription(subscription_id: str, now: str | None = None) -> str | None:
    charge = subscription_bill(subscription_id=subscription_id, now=_parse(now))
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
    return _charges_reconcile(now=_parse(now))


@shared_task(name="checkout.tasks.idempotency_purge")
def idempotency_purge() -> int:
    return _idempotency_purge()


# --- webhooks (issue 8): registered with the worker through this module ---
from checkout.webhooks.tasks import deliver_webhook, webhooks_enqueue_due  # noqa: E402

__all__ = [
    "bill_subscription",
    "billing_enqueue_due",
    "charges_reconcile",
    "deliver_webhook",
    "idempotency_purge",
    "webhooks_enqueue_due",
]
