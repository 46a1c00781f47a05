from .charges import Charge, Refund
from .idempotency import IdempotencyKey
from .sandbox import SandboxLedgerEntry

# --- checkout sessions (issue 6) ---
from .sessions import CheckoutSession
from .subscriptions import Subscription

__all__ = [
    "Charge",
    "CheckoutSession",
    "IdempotencyKey",
    "Refund",
    "SandboxLedgerEntry",
    "Subscription",
]
