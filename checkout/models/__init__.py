from .charges import Charge, Refund
from .idempotency import IdempotencyKey
from .sandbox import SandboxLedgerEntry

# --- checkout sessions (issue 6) ---
from .sessions import CheckoutSession
from .subscriptions import Subscription

# --- webhooks (issue 8) ---
from .webhooks import (
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
