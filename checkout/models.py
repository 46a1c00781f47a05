"""Models of every checkout domain: Django's model discovery imports this module. Code
imports each model from its own domain (``checkout.payments.models``…), not from here."""

from checkout.billing.models import Subscription
from checkout.customers.models import Customer, CustomerCard
from checkout.payments.idempotency.models import IdempotencyKey
from checkout.payments.models import Charge, Refund
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.relay.models import Forward, ForwardDestination
from checkout.sessions.models import CheckoutSession
from checkout.webhooks.models import (
    Event,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSecret,
)

__all__ = [
    "Charge",
    "CheckoutSession",
    "Customer",
    "CustomerCard",
    "Event",
    "EventType",
    "Forward",
    "ForwardDestination",
    "IdempotencyKey",
    "Refund",
    "SandboxLedgerEntry",
    "Subscription",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookSecret",
]
