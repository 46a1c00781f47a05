from .charges import Charge, Refund
from .idempotency import IdempotencyKey
from .sandbox import SandboxLedgerEntry
from .subscriptions import Subscription

__all__ = ["Charge", "IdempotencyKey", "Refund", "SandboxLedgerEntry", "Subscription"]
