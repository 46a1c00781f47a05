"""Pluggable payment processors (``settings.PROCESSOR_BACKEND``)."""

from checkout.payments.processors.base import (
    Processor,
    ProcessorCard,
    ProcessorCharge,
    ProcessorError,
    ProcessorRefund,
    ProcessorTimeout,
    ProcessorUnreachable,
    get_processor,
)

__all__ = [
    "Processor",
    "ProcessorCard",
    "ProcessorCharge",
    "ProcessorError",
    "ProcessorRefund",
    "ProcessorTimeout",
    "ProcessorUnreachable",
    "get_processor",
]
