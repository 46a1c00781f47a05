"""Structured JSON logging in which every record passes through one redaction step.

Both structlog loggers and plain ``logging`` loggers end in the same ``ProcessorFormatter``, so
messages, their %-arguments, ``extra`` fields and formatted tracebacks are all redacted after
they have been turned into text and before anything is written.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from monitoring.observability.redaction import redact

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def redact_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The single redaction step: runs last, on the fully formatted event."""
    return redact(event_dict)


def json_formatter() -> logging.Formatter:
    """Formatter factory referenced from ``settings.LOGGING``; also configures structlog, so
    that both kinds of logger share this formatter from the first record on."""
    configure_structlog()
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.StackInfoRenderer(),
            redact_event,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
    )


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
