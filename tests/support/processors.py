"""A live-mode processor for the test suite: a fake at the edge, like moto for KMS.

Live mode needs a processor that is not the sandbox (``PROCESSOR_LIVE``); no real one is
reachable from tests, so this stands in: it declines the cards whose BIN and last four are
those of a public decline card (as an issuer would, for the card-testing tests) and approves
the rest, keeps its ledger in the process (idempotent on our keys like a real processor) and
counts its calls, so tests can tell which processor a mode reached.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from checkout.payments.processors.base import (
    Processor,
    ProcessorCapture,
    ProcessorCard,
    ProcessorCharge,
    ProcessorRefund,
    ProcessorVoid,
)
from checkout.payments.processors.sandbox import FAILURE_MESSAGES, SandboxProcessor
from payments_site.kernel.ids import new_id


class LiveTestProcessor(Processor):
    name = "live-test"

    ledger: ClassVar[
        dict[str, ProcessorCharge | ProcessorRefund | ProcessorCapture | ProcessorVoid]
    ] = {}
    # Authorizations not captured or voided yet: processor id → amount held.
    holds: ClassVar[dict[str, int]] = {}
    calls: ClassVar[Counter[str]] = Counter()

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)

    @classmethod
    def reset(cls) -> None:
        cls.ledger.clear()
        cls.holds.clear()
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
        code = SandboxProcessor.decide(card)
        answer = ProcessorCharge(
            processor_id=new_id("live"),
            approved=not code,
            failure_code=code,
            failure_message=FAILURE_MESSAGES.get(code, ""),
        )
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

    def authorize(
        self,
        *,
        idempotency_key: str,
        card: ProcessorCard,
        amount: int,
        currency: str,
        description: str = "",
    ) -> ProcessorCharge:
        self.calls["authorize"] += 1
        known = self.ledger.get(idempotency_key)
        if isinstance(known, ProcessorCharge):
            return known
        code = SandboxProcessor.decide(card)
        answer = ProcessorCharge(
            processor_id=new_id("live"),
            approved=not code,
            failure_code=code,
            failure_message=FAILURE_MESSAGES.get(code, ""),
        )
        self.ledger[idempotency_key] = answer
        self.holds[answer.processor_id] = amount
        return answer

    def capture(
        self, *, idempotency_key: str, processor_charge_id: str, amount: int, currency: str
    ) -> ProcessorCapture:
        self.calls["capture"] += 1
        known = self.ledger.get(idempotency_key)
        if isinstance(known, ProcessorCapture):
            return known
        held = self.holds.pop(processor_charge_id, None)
        answer = (
            ProcessorCapture(processor_id=new_id("livec"), succeeded=True, amount=amount)
            if held is not None and amount <= held
            else ProcessorCapture(
                processor_id=new_id("livec"), succeeded=False, failure_code="charge_not_capturable"
            )
        )
        self.ledger[idempotency_key] = answer
        return answer

    def void(self, *, idempotency_key: str, processor_charge_id: str) -> ProcessorVoid:
        self.calls["void"] += 1
        known = self.ledger.get(idempotency_key)
        if isinstance(known, ProcessorVoid):
            return known
        held = self.holds.pop(processor_charge_id, None)
        answer = ProcessorVoid(
            processor_id=new_id("livev"),
            succeeded=held is not None,
            failure_code="" if held is not None else "charge_not_voidable",
        )
        self.ledger[idempotency_key] = answer
        return answer
