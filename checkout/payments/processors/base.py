"""The processor interface: the only code that ever sees a revealed card.

Every request carries an idempotency key chosen by us (our charge or refund id), so sending the
same request twice — after a timeout, from the reconcile job, from a second worker — can never
move money twice: the processor answers the second time with the first result.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


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
class ProcessorRefund:
    processor_id: str
    succeeded: bool
    failure_code: str = ""
    failure_message: str = ""


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
        """The processor's record of the charge sent with ``idempotency_key``, or None if it
        never arrived. Used to settle charges whose answer was lost."""

    @abstractmethod
    def refund(
        self, *, idempotency_key: str, processor_charge_id: str, amount: int, currency: str
    ) -> ProcessorRefund:
        """Return ``amount`` of a captured charge; idempotent like ``charge``."""


@functools.cache
def get_processor() -> Processor:
    """The configured processor, built once per process."""
    processor_class = import_string(settings.PROCESSOR_BACKEND)
    processor: Processor = processor_class(**settings.PROCESSOR_OPTIONS)
    return processor
