"""A processor sandbox that behaves like a real processor's test mode.

Outcomes follow the public test cards (tests/data/cards.json): the decline cards are matched by
BIN and last four digits — the truncation PCI DSS allows to be stored — so no card number
appears in this code; every other Luhn-valid card is approved.

Its ledger is a database table written outside the caller's transaction (services never call a
processor inside one), shared by every process like a real processor's books: that is what makes
its idempotency real across gunicorn workers, Celery workers and the reconcile job.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum

from checkout.payments.processors.base import (
    Processor,
    ProcessorCard,
    ProcessorCharge,
    ProcessorRefund,
    ProcessorTimeout,
    ProcessorUnreachable,
)
from checkout.payments.processors.models import SandboxLedgerEntry
from payments_site.kernel.cards import luhn_valid
from payments_site.kernel.ids import new_id

# (BIN, last4) → failure code, as in the public test cards.
DECLINES: dict[tuple[str, str], str] = {
    ("400000", "0002"): "card_declined",
    ("400000", "9995"): "insufficient_funds",
    ("400000", "9987"): "lost_card",
    ("400000", "9979"): "stolen_card",
    ("400000", "0069"): "expired_card",
    ("400000", "0127"): "incorrect_cvc",
    ("400000", "0119"): "processing_error",
}

FAILURE_MESSAGES: dict[str, str] = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
    "lost_card": "The card was declined.",
    "stolen_card": "The card was declined.",
    "expired_card": "The card has expired.",
    "incorrect_cvc": "The card's security code is incorrect.",
    "processing_error": "An error occurred while processing the card. Try again.",
    "incorrect_number": "The card number is incorrect.",
}

FAULTS = frozenset({"", "timeout_before", "timeout_after", "connection_error"})


class SandboxIdempotencyError(Exception):
    """The same idempotency key arrived with different parameters (a bug on our side)."""


class SandboxProcessor(Processor):
    name = "sandbox"
    sandbox = True

    def __init__(self, *, latency_ms: int = 0, fault: str = "", **options: Any) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown sandbox fault {fault!r}")
        super().__init__(latency_ms=latency_ms, fault=fault, **options)
        self.latency = max(0, latency_ms) / 1000
        self.fault = fault

    # -- outcome rules ------------------------------------------------------------------------
    @staticmethod
    def decide(card: ProcessorCard) -> str:
        """The failure code for ``card``, or "" when it is approved."""
        number = card.number
        if not number.isdigit() or not luhn_valid(number):
            return "incorrect_number"
        return DECLINES.get((number[:6], number[-4:]), "")

    # -- Processor ------------------------------------------------------------------------------
    def charge(
        self,
        *,
        idempotency_key: str,
        card: ProcessorCard,
        amount: int,
        currency: str,
        description: str = "",
    ) -> ProcessorCharge:
        self._network("charge", before=True)
        failure_code = self.decide(card)
        digest = _digest("charge", amount, currency)
        entry = self._record(
            idempotency_key=idempotency_key,
            kind="charge",
            digest=digest,
            fields={
                "amount": amount,
                "currency": currency,
                "approved": not failure_code,
                "failure_code": failure_code,
            },
        )
        self._network("charge", before=False)
        return _as_charge(entry)

    def charge_lookup(self, *, idempotency_key: str) -> ProcessorCharge | None:
        entry = SandboxLedgerEntry.objects.filter(
            idempotency_key=idempotency_key, kind=SandboxLedgerEntry.Kind.CHARGE
        ).first()
        return _as_charge(entry) if entry else None

    def refund(
        self, *, idempotency_key: str, processor_charge_id: str, amount: int, currency: str
    ) -> ProcessorRefund:
        self._network("refund", before=True)
        original = SandboxLedgerEntry.objects.filter(
            processor_id=processor_charge_id, kind=SandboxLedgerEntry.Kind.CHARGE, approved=True
        ).first()
        failure_code = ""
        if original is None or original.currency != currency:
            failure_code = "charge_not_found"
        else:
            refunded = (
                SandboxLedgerEntry.objects.filter(
                    refund_of=original.processor_id, approved=True
                ).aggregate(total=Sum("amount"))["total"]
                or 0
            )
            if refunded + amount > original.amount:
                failure_code = "amount_too_large"
        entry = self._record(
            idempotency_key=idempotency_key,
            kind="refund",
            digest=_digest("refund", amount, currency, processor_charge_id),
            fields={
                "amount": amount,
                "currency": currency,
                "approved": not failure_code,
                "failure_code": failure_code,
                "refund_of": processor_charge_id,
            },
        )
        self._network("refund", before=False)
        return ProcessorRefund(
            processor_id=entry.processor_id,
            succeeded=entry.approved,
            failure_code=entry.failure_code,
        )

    # -- internals ----------------------------------------------------------------------------
    def _network(self, operation: str, *, before: bool) -> None:
        """Latency and injected faults, on the way in (``before``) or out."""
        if before:
            if self.latency:
                time.sleep(self.latency)
            if self.fault == "connection_error":
                raise ProcessorUnreachable(f"sandbox {operation}: connection refused")
            if self.fault == "timeout_before":
                raise ProcessorTimeout(f"sandbox {operation}: request lost, nothing recorded")
        elif self.fault == "timeout_after":
            raise ProcessorTimeout(f"sandbox {operation}: recorded, answer lost")

    def _record(
        self, *, idempotency_key: str, kind: str, digest: str, fields: dict[str, Any]
    ) -> Any:
        prefix = "py" if kind == "charge" else "pyr"
        try:
            with transaction.atomic():
                return SandboxLedgerEntry.objects.create(
                    idempotency_key=idempotency_key,
                    kind=kind,
                    processor_id=new_id(prefix),
                    request_digest=digest,
                    **fields,
                )
        except IntegrityError:
            # Replayed key: the processor answers with what it did the first time.
            entry = SandboxLedgerEntry.objects.get(idempotency_key=idempotency_key)
            if entry.request_digest != digest or entry.kind != kind:
                raise SandboxIdempotencyError(
                    "idempotency key reused with different parameters"
                ) from None
            return entry


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def _as_charge(entry: Any) -> ProcessorCharge:
    return ProcessorCharge(
        processor_id=entry.processor_id,
        approved=entry.approved,
        failure_code=entry.failure_code,
        failure_message=FAILURE_MESSAGES.get(entry.failure_code, "") if entry.failure_code else "",
    )
