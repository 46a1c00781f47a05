"""Pluggable payment processors (``settings.PROCESSOR_BACKEND``)."""

from checkout.payments.processors.base import (
    LiveModeUnavailable,
    Processor,
    ProcessorCapture,
    ProcessorCard,
    ProcessorCharge,
    ProcessorError,
    ProcessorRefund,
    ProcessorTimeout,
    ProcessorUnreachable,
    ProcessorVoid,
    capture_key,
    get_processor,
    live_mode_require,
    void_key,
)

__all__ = [
    "LiveModeUnavailable",
    "Processor",
    "ProcessorCapture",
    "ProcessorCard",
    "ProcessorCharge",
    "ProcessorError",
    "ProcessorRefund",
    "ProcessorTimeout",
    "ProcessorUnreachable",
    "ProcessorVoid",
    "capture_key",
    "get_processor",
    "live_mode_require",
    "void_key",
]
