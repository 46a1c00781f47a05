"""A live-mode processor for the test suite: a fake at the edge, like moto for KMS.

Live mode needs a processor that is not the sandbox (``PROCESSOR_LIVE``); no real one is
reachable from tests, so this stands in: it approves every charge, keeps its ledger in the
process (idempotent on our keys like a real processor) and counts its calls, so tests can tell
which processor a mode reached.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from checkout.payments.processors.base import (
    Processor,
    ProcessorCard,
    ProcessorCharge,
    ProcessorRefund,
)
from payments_site.kernel.ids import new_id


class LiveTestProcessor(Processor):
    name = "live-test"

    ledger: ClassVar[dict[str, ProcessorCharge | ProcessorRefund]] = {}
    calls: ClassVar[Counter[str]] = Counter()

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)

    @classmethod
    def reset(cls) -> None:
        cls.ledger.clear()
        cls.calls.clear()

    def charge(
        self,
        *,
        idempotency_key: str,
        card: ProcessorCard,
        amount: int,
        currency: str,
        description: str = "",
    ) -> ProcessorCharge:
        self.calls["charge"] += 1
        known = self.ledger.get(idempotency_key)
        if isinstance(known, ProcessorCharge):
            return known
        answer = ProcessorCharge(processor_id=new_id("live"), approved=True)
        self.ledger[idempotency_key] = answer
        return answer

    def charge_lookup(self, *, idempotency_key: str) -> ProcessorCharge | None:
        self.calls["charge_lookup"] += 1
        known = self.ledger.get(idempotency_key)
        return known if isinstance(known, ProcessorCharge) else None

    def refund(
        self, *, idempotency_key: str, processor_charge_id: str, amount: int, currency: str
    ) -> ProcessorRefund:
        self.calls["refund"] += 1
        known = self.ledger.get(idempotency_key)
        if isinstance(known, ProcessorRefund):
            return known
        answer = ProcessorRefund(processor_id=new_id("liver"), succeeded=True)
        self.ledger[idempotency_key] = answer
        return answer
