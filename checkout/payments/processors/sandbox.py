"""A processor sandbox that behaves like a real processor's test mode.

Outcomes follow the public test cards (tests/data/cards.json): the decline cards are matched by
BIN and last four digits — the truncation PCI DSS allows to be stored — so no card number
appears in this code; every other Luhn-valid card is approved. The capture-decline cards are
authorised and then refused at capture.

Its ledger is a database table written outside the caller's transaction (services never call a
processor inside one), shared by every process like a real processor's books: that is what makes
its idempotency real across gunicorn workers, Celery workers and the reconcile job.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum

from checkout.payments.processors.base import (
    Processor,
    ProcessorCapture,
    ProcessorCard,
    ProcessorCharge,
    ProcessorRefund,
    ProcessorTimeout,
    ProcessorUnreachable,
    ProcessorVoid,
)
from checkout.payments.processors.models import SandboxLedgerEntry
from payments_site.kernel.cards import luhn_valid
from payments_site.kernel.ids import new_id
from payments_site.kernel.rows import row_insert

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

# (BIN, last4) → failure code at capture: the authorization is approved, its capture refused.
CAPTURE_DECLINES: dict[tuple[str, str], str] = {
    ("400000", "0341"): "card_declined",
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
    "authorization_not_found": "No such authorization.",
    "authorization_released": "The authorization was released; nothing can be captured.",
    "charge_already_captured": "The authorization was captured already.",
    "amount_too_large": "The amount exceeds what the authorization holds.",
}

FAULTS = frozenset({"", "timeout_before", "timeout_after", "connection_error"})
OPERATIONS = frozenset({"charge", "authorize", "capture", "void", "refund"})

Kind = SandboxLedgerEntry.Kind
# Processor ids by kind; captures and voids are "pys_" (settlements of a hold).
ID_PREFIXES: dict[str, str] = {Kind.CHARGE: "py", Kind.AUTHORIZE: "pya", Kind.REFUND: "pyr"}


class SandboxIdempotencyError(Exception):
    """The same idempotency key arrived with different parameters (a bug on our side)."""


class SandboxProcessor(Processor):
    """``fault`` is injected into every operation, or only those named in ``fault_on``
    (comma-separated: ``"capture,void"``), so a test can lose the answer of one step."""

    name = "sandbox"
    sandbox = True
    charge_lookup_complete = True  # its ledger holds every request that arrived

    def __init__(
        self, *, latency_ms: int = 0, fault: str = "", fault_on: str = "", **options: Any
    ) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown sandbox fault {fault!r}")
        faulty = frozenset(filter(None, (op.strip() for op in fault_on.split(","))))
        if faulty - OPERATIONS:
            raise ValueError(f"unknown sandbox operations {sorted(faulty - OPERATIONS)}")
        super().__init__(latency_ms=latency_ms, fault=fault, fault_on=fault_on, **options)
        self.latency = max(0, latency_ms) / 1000
        self.fault = fault
        self.fault_on = faulty or OPERATIONS

    # -- outcome rules ------------------------------------------------------------------------
    @staticmethod
    def decide(card: ProcessorCard) -> str:
        """The failure code for ``card``, or "" when it is approved."""
        number = card.number
        if not number.isdigit() or not luhn_valid(number):
            return "incorrect_number"
        return DECLINES.get((number[:6], number[-4:]), "")

    @staticmethod
    def decide_capture(card: ProcessorCard) -> str:
        """The failure code the capture of an approved authorization of ``card`` will get."""
        return CAPTURE_DECLINES.get((card.number[:6], card.number[-4:]), "")

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
        failure_code = self.decide(card) or self.decide_capture(card)
        entry = self._record(
            idempotency_key=idempotency_key,
            kind=Kind.CHARGE,
            digest=_digest("charge", amount, currency),
            fields={
                "amount": amount,
                "currency": currency,
                "approved": not failure_code,
                "failure_code": failure_code,
            },
        )
        self._network("charge", before=False)
        return _as_charge(entry)

    def authorize(
        self,
        *,
        idempotency_key: str,
        card: ProcessorCard,
        amount: int,
        currency: str,
        description: str = "",
    ) -> ProcessorCharge:
        self._network("authorize", before=True)
        failure_code = self.decide(card)
        entry = self._record(
            idempotency_key=idempotency_key,
            kind=Kind.AUTHORIZE,
            digest=_digest("authorize", amount, currency),
            fields={
                "amount": amount,
                "currency": currency,
                "approved": not failure_code,
                "failure_code": failure_code,
                "capture_failure_code": "" if failure_code else self.decide_capture(card),
            },
        )
        self._network("authorize", before=False)
        return _as_charge(entry)

    def charge_lookup(self, *, idempotency_key: str) -> ProcessorCharge | None:
        entry = SandboxLedgerEntry.objects.filter(
            idempotency_key=idempotency_key, kind__in=[Kind.CHARGE, Kind.AUTHORIZE]
        ).first()
        return _as_charge(entry) if entry else None

    def capture(
        self, *, idempotency_key: str, processor_charge_id: str, amount: int, currency: str
    ) -> ProcessorCapture:
        self._network("capture", before=True)

        def decide(hold: SandboxLedgerEntry | None) -> str:
            if hold is None or hold.currency != currency:
                return "authorization_not_found"
            if amount > hold.amount:
                return "amount_too_large"
            return hold.capture_failure_code

        entry = self._settle_hold(
            idempotency_key=idempotency_key,
            kind=Kind.CAPTURE,
            parent=processor_charge_id,
            digest=_digest("capture", amount, currency, processor_charge_id),
            amount=amount,
            decide=decide,
        )
        self._network("capture", before=False)
        return ProcessorCapture(
            processor_id=entry.processor_id,
            succeeded=entry.approved,
            amount=entry.amount if entry.approved else 0,
            failure_code=entry.failure_code,
            failure_message=FAILURE_MESSAGES.get(entry.failure_code, ""),
        )

    def void(self, *, idempotency_key: str, processor_charge_id: str) -> ProcessorVoid:
        self._network("void", before=True)

        def decide(hold: SandboxLedgerEntry | None) -> str:
            return "authorization_not_found" if hold is None else ""

        entry = self._settle_hold(
            idempotency_key=idempotency_key,
            kind=Kind.VOID,
            parent=processor_charge_id,
            digest=_digest("void", processor_charge_id),
            amount=0,
            decide=decide,
        )
        self._network("void", before=False)
        return ProcessorVoid(
            processor_id=entry.processor_id,
            succeeded=entry.approved,
            failure_code=entry.failure_code,
        )

    def refund(
        self, *, idempotency_key: str, processor_charge_id: str, amount: int, currency: str
    ) -> ProcessorRefund:
        self._network("refund", before=True)
        original = SandboxLedgerEntry.objects.filter(
            processor_id=processor_charge_id,
            kind__in=[Kind.CHARGE, Kind.AUTHORIZE],
            approved=True,
        ).first()
        failure_code = ""
        if original is None or original.currency != currency:
            failure_code = "charge_not_found"
        else:
            captured = original.amount if original.kind == Kind.CHARGE else self._captured(original)
            if _approved_total(parent=original.processor_id, kind=Kind.REFUND) + amount > captured:
                failure_code = "amount_too_large"
        entry = self._record(
            idempotency_key=idempotency_key,
            kind=Kind.REFUND,
            digest=_digest("refund", amount, currency, processor_charge_id),
            fields={
                "amount": amount,
                "currency": currency,
                "approved": not failure_code,
                "failure_code": failure_code,
                "parent": processor_charge_id,
            },
        )
        self._network("refund", before=False)
        return ProcessorRefund(
            processor_id=entry.processor_id,
            succeeded=entry.approved,
            failure_code=entry.failure_code,
        )

    # -- internals ----------------------------------------------------------------------------
    @staticmethod
    def _ended(hold: SandboxLedgerEntry | None) -> str:
        """Why nothing more can be done with ``hold`` (captured or released), or ""."""
        if hold is None:
            return ""
        ended = Q(kind__in=[Kind.CAPTURE, Kind.VOID], approved=True)
        if hold.capture_failure_code:
            ended |= Q(kind=Kind.CAPTURE, failure_code=hold.capture_failure_code)
        settled = SandboxLedgerEntry.objects.filter(ended, parent=hold.processor_id).first()
        if settled is None:
            return ""
        if settled.kind == Kind.CAPTURE and settled.approved:
            return "charge_already_captured"
        return "authorization_released"

    @staticmethod
    def _captured(hold: SandboxLedgerEntry) -> int:
        return _approved_total(parent=hold.processor_id, kind=Kind.CAPTURE)

    def _settle_hold(
        self,
        *,
        idempotency_key: str,
        kind: str,
        parent: str,
        digest: str,
        amount: int,
        decide: Callable[[SandboxLedgerEntry | None], str],
    ) -> SandboxLedgerEntry:
        """A capture or void of the hold ``parent``: at most one of them ever succeeds (the
        hold's row is locked while it is decided), and the same key answers as it first did.
        A capture refused by the card releases the hold, as an issuer's refusal does."""
        with transaction.atomic():
            hold = (
                SandboxLedgerEntry.objects.select_for_update()
                .filter(processor_id=parent, kind=Kind.AUTHORIZE, approved=True)
                .first()
            )
            known = SandboxLedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
            if known is not None:
                return _replayed(known, kind=kind, digest=digest)
            failure_code = self._ended(hold) or decide(hold)
            currency = hold.currency if hold is not None else ""
            return self._record(
                idempotency_key=idempotency_key,
                kind=kind,
                digest=digest,
                fields={
                    "amount": amount,
                    "currency": currency,
                    "approved": not failure_code,
                    "failure_code": failure_code,
                    "parent": parent,
                },
            )

    def _network(self, operation: str, *, before: bool) -> None:
        """Latency and injected faults, on the way in (``before``) or out."""
        if before and self.latency:
            time.sleep(self.latency)
        if operation not in self.fault_on:
            return
        if before:
            if self.fault == "connection_error":
                raise ProcessorUnreachable(f"sandbox {operation}: connection refused")
            if self.fault == "timeout_before":
                raise ProcessorTimeout(f"sandbox {operation}: request lost, nothing recorded")
        elif self.fault == "timeout_after":
            raise ProcessorTimeout(f"sandbox {operation}: recorded, answer lost")

    def _record(
        self, *, idempotency_key: str, kind: str, digest: str, fields: dict[str, Any]
    ) -> SandboxLedgerEntry:
        prefix = ID_PREFIXES.get(kind, "pys")
        try:
            with transaction.atomic():
                entry = SandboxLedgerEntry(
                    idempotency_key=idempotency_key,
                    kind=kind,
                    processor_id=new_id(prefix),
                    request_digest=digest,
                    **fields,
                )
                row_insert(entry)
                return entry
        except IntegrityError:
            # Replayed key: the processor answers with what it did the first time.
            entry = SandboxLedgerEntry.objects.get(idempotency_key=idempotency_key)
            return _replayed(entry, kind=kind, digest=digest)


def _replayed(entry: SandboxLedgerEntry, *, kind: str, digest: str) -> SandboxLedgerEntry:
    if entry.request_digest != digest or entry.kind != kind:
        raise SandboxIdempotencyError("idempotency key reused with different parameters")
    return entry


def _approved_total(*, parent: str, kind: str) -> int:
    total = SandboxLedgerEntry.objects.filter(parent=parent, kind=kind, approved=True).aggregate(
        total=Sum("amount")
    )["total"]
    return int(total or 0)


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def _as_charge(entry: SandboxLedgerEntry) -> ProcessorCharge:
    return ProcessorCharge(
        processor_id=entry.processor_id,
        approved=entry.approved,
        failure_code=entry.failure_code,
        failure_message=FAILURE_MESSAGES.get(entry.failure_code, "") if entry.failure_code else "",
    )
