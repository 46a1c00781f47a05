"""Celery tasks of every checkout domain: Celery's autodiscovery imports this module."""

from checkout.billing.tasks import bill_subscription, billing_enqueue_due, charges_reconcile
from checkout.payments.tasks import authorizations_expire, idempotency_purge
from checkout.sessions.tasks import checkout_sessions_expire
from checkout.webhooks.tasks import deliver_webhook, events_purge, webhooks_enqueue_due

__all__ = [
    "authorizations_expire",
    "bill_subscription",
    "billing_enqueue_due",
    "charges_reconcile",
    "checkout_sessions_expire",
    "deliver_webhook",
    "events_purge",
    "idempotency_purge",
    "webhooks_enqueue_due",
]
