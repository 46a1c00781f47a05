from checkout.billing.models import Subscription
from checkout.payments.idempotency.models import IdempotencyKey
from checkout.payments.models import Charge, Refund
from checkout.payments.processors.models import SandboxLedgerEntry

# --- checkout sessions (issue 6) ---
from checkout.sessions.models import CheckoutSession

# --- webhooks (issue 8) ---
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
    "Event",
    "EventType",
    "IdempotencyKey",
    "Refund",
    "SandboxLedgerEntry",
    "Subscription",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookSecret",
]
