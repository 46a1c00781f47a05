"""Pluggable payment processors (``settings.PROCESSOR_BACKEND``)."""

from checkout.payments.processors.base import (
    LiveModeUnavailable,
    Processor,
    ProcessorCard,
    ProcessorCharge,
    ProcessorError,
    ProcessorRefund,
    ProcessorTimeout,
    ProcessorUnreachable,
    get_processor,
    live_mode_require,
)

__all__ = [
    "LiveModeUnavailable",
    "Processor",
    "ProcessorCard",
    "ProcessorCharge",
    "ProcessorError",
    "ProcessorRefund",
    "ProcessorTimeout",
    "ProcessorUnreachable",
    "get_processor",
    "live_mode_require",
]
