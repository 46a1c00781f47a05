"""The processor interface: the only code that ever sees a revealed card.

Every request carries an idempotency key chosen by us (our charge or refund id, or a key derived
from the charge id for the later steps of an authorization: ``capture_key``, ``void_key``), so
sending the same request twice — after a timeout, from the reconcile job, from a second worker —
can never move money twice: the processor answers the second time with the first result.

Two ways to take a payment: ``charge`` (authorise and capture at once), or ``authorize`` (hold
the funds) followed by one ``capture`` of all or part of the hold — the rest is released — or a
``void`` of the whole hold.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from payments_site.kernel.errors import DomainError


@dataclass(frozen=True)
class ProcessorCard:
    """A card in memory for one processor call. ``number`` and ``cvc`` never appear in a repr."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    name: str = field(default="", repr=False)
    cvc: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ProcessorCharge:
    """A processor's answer to a charge: approved, or declined with a failure code."""

    processor_id: str
    approved: bool
    failure_code: str = ""
    failure_message: str = ""


@dataclass(frozen=True)
class ProcessorCapture:
    """A processor's answer to a capture: ``amount`` taken from the hold (the rest released),
    or refused with a failure code (the hold is then released by the processor). ``pending``:
    the processor accepted the capture and confirms it later (Adyen's ``received`` and its
    ``CAPTURE`` notification), so the charge stays ``capturing`` until then."""

    processor_id: str
    succeeded: bool
    amount: int = 0
    failure_code: str = ""
    failure_message: str = ""
    pending: bool = False


@dataclass(frozen=True)
class ProcessorVoid:
    """A processor's answer to a void: the whole hold released, or refused (``failure_code``,
    e.g. ``charge_already_captured``). ``pending``: accepted, confirmed later by the processor
    (Adyen's ``CANCELLATION`` notification)."""

    processor_id: str
    succeeded: bool
    failure_code: str = ""
    pending: bool = False


@dataclass(frozen=True)
class ProcessorRefund:
    """``pending``: accepted, confirmed later by the processor (Adyen's ``REFUND``
    notification), so the refund stays ``pending`` until then."""

    processor_id: str
    succeeded: bool
    failure_code: str = ""
    failure_message: str = ""
    pending: bool = False


class ProcessorError(Exception):
    """A transport-level failure. Messages name no card data."""


class ProcessorTimeout(ProcessorError):
    """The request may or may not have reached the processor: the outcome is unknown, so the
    charge stays ``pending`` until the reconcile job asks the processor."""


class ProcessorUnreachable(ProcessorError):
    """The request never left (connection refused, DNS failure): nothing happened."""


class Processor(ABC):
    """One implementation per processor, chosen by ``settings.PROCESSOR_BACKEND``."""

    name: str
    # A sandbox approves made-up cards and moves no money: it may serve test mode only.
    sandbox: bool = False
    # How long the processor is known to keep an idempotency key's first answer (None: for
    # as long as we need it). Past it, a re-sent request is a new request.
    idempotency_key_lifetime: timedelta | None = None
    # Whether ``charge_lookup`` answering None proves the processor never got the charge
    # (else it only means "ask again by re-sending").
    charge_lookup_complete: bool = False

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abstractmethod
    def charge(
        self,
        *,
        idempotency_key: str,
        card: ProcessorCard,
        amount: int,
        currency: str,
        description: str = "",
    ) -> ProcessorCharge:
        """Authorise and capture ``amount``; the same ``idempotency_key`` returns the first
        answer. Raises ``ProcessorTimeout`` / ``ProcessorUnreachable``."""

    @abstractmethod
    def charge_lookup(self, *, idempotency_key: str) -> ProcessorCharge | None:
        """The processor's record of the charge or authorization sent with
        ``idempotency_key``, or None if it never arrived. Used to settle charges whose answer
        was lost."""

    @abstractmethod
    def refund(
        self, *, idempotency_key: str, processor_charge_id: str, amount: int, currency: str
    ) -> ProcessorRefund:
        """Return ``amount`` of a captured charge (or of the captured part of an
        authorization); idempotent like ``charge``."""

    @abstractmethod
    def authorize(
        self,
        *,
        idempotency_key: str,
        card: ProcessorCard,
        amount: int,
        currency: str,
        description: str = "",
    ) -> ProcessorCharge:
        """Hold ``amount`` on the card without capturing it; ``charge_lookup`` finds it by the
        same key. ``approved`` means the funds are held. Idempotent like ``charge``."""

    @abstractmethod
    def capture(
        self, *, idempotency_key: str, processor_charge_id: str, amount: int, currency: str
    ) -> ProcessorCapture:
        """Capture ``amount`` (at most the held amount) of the authorization
        ``processor_charge_id`` and release the rest. One capture per authorization: a second
        key is refused; the same key (``capture_key``) answers with the first result."""

    @abstractmethod
    def void(self, *, idempotency_key: str, processor_charge_id: str) -> ProcessorVoid:
        """Release the whole hold of an uncaptured authorization. The same key
        (``void_key``) answers with the first result; a captured one is refused."""


def capture_key(charge_id: str) -> str:
    """The processor idempotency key of a charge's capture: one per charge, whoever sends it."""
    return f"{charge_id}:capture"


def void_key(charge_id: str) -> str:
    """The processor idempotency key of a charge's void, whether a merchant released the
    authorization or it expired: one void per charge."""
    return f"{charge_id}:void"


# Re-sends stop this long before the processor may forget a key: clocks differ, and the
# reconcile job may be delayed by a deploy or an outage.
RESEND_MARGIN = timedelta(days=1)


def resend_safe(*, processor: Processor, first_sent_at: datetime, now: datetime) -> bool:
    """Whether a request first sent at ``first_sent_at`` may be sent again now and be answered
    with its first result. Past the processor's idempotency-key lifetime (less the margin) a
    re-send could charge, capture or refund a second time, so it is not made."""
    lifetime = processor.idempotency_key_lifetime
    return lifetime is None or now < first_sent_at + lifetime - RESEND_MARGIN


class LiveModeUnavailable(DomainError):
    """Live mode has no processor on this deployment (``PROCESSOR_LIVE`` is not set): a live
    charge, refund, subscription or paid checkout is refused before anything is stored."""

    code = "live_mode_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Live mode is not available on this deployment: no live payment processor is "
            "configured. Use a test key, or ask the operator to set PROCESSOR_LIVE."
        )


def live_processor_configured() -> bool:
    return bool(settings.PROCESSOR_LIVE)


def modes_with_processor() -> list[bool]:
    """The ``livemode`` values work can be done in (background jobs skip the others)."""
    return [False, True] if live_processor_configured() else [False]


def live_mode_require() -> None:
    """Refuse live work up front (``LiveModeUnavailable``) when live mode has no processor."""
    if not live_processor_configured():
        raise LiveModeUnavailable()


def get_processor(*, livemode: bool) -> Processor:
    """The processor of a mode, built once per process. Test mode: ``PROCESSOR_BACKEND`` (the
    sandbox). Live mode: ``PROCESSOR_LIVE``, never the sandbox (it approves any card number
    and moves no money); without one, ``LiveModeUnavailable``."""
    if not livemode:
        return _processor(settings.PROCESSOR_BACKEND, live=False)
    live_mode_require()
    return _processor(settings.PROCESSOR_LIVE, live=True)


@functools.cache
def _processor(path: str, *, live: bool) -> Processor:
    processor_class = import_string(path)
    if live and processor_class.sandbox:
        raise ImproperlyConfigured(
            "PROCESSOR_LIVE cannot be the sandbox: it serves test mode only."
        )
    options = settings.PROCESSOR_LIVE_OPTIONS if live else settings.PROCESSOR_OPTIONS
    processor: Processor = processor_class(**options)
    return processor


def processor_name(*, livemode: bool) -> str:
    """What a charge records as its processor (the class name of its mode's backend)."""
    path = settings.PROCESSOR_LIVE if livemode else settings.PROCESSOR_BACKEND
    return str(path).rsplit(".", 1)[-1]


def processors_reset() -> None:
    """Forget the built processors (settings changed: tests switch processors and faults)."""
    _processor.cache_clear()
