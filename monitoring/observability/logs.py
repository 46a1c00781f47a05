"""Structured logging in which every record passes through one redaction step: JSON lines
(``json_formatter``, production) or lines for a person to read (``console_formatter``,
``make run``), the same fields either way.

Both structlog loggers and plain ``logging`` loggers end in the same ``ProcessorFormatter``, so
messages, their %-arguments, ``extra`` fields and formatted tracebacks are all redacted after
they have been turned into text and before anything is written. A record made while a request
is served carries its ``request_id``, including Django's 4xx/5xx warnings (logged once the
middleware has returned, so taken from the record's request) and gunicorn's access lines.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from monitoring.observability.context import current_request_id
from monitoring.observability.redaction import redact


def add_request_id(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The id of the request being served, or of the request a record is about."""
    if not event_dict.get("request_id"):
        request = event_dict.pop("request", None) or getattr(
            event_dict.get("_record"), "request", None
        )
        request_id = getattr(request, "request_id", None) or current_request_id()
        if request_id:
            event_dict["request_id"] = request_id
    else:
        event_dict.pop("request", None)
    return event_dict


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def redact_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The single redaction step: runs last, on the fully formatted event."""
    return redact(event_dict)


def _formatter(renderer: Any) -> logging.Formatter:
    configure_structlog()
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            add_request_id,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.StackInfoRenderer(),
            redact_event,
            renderer,
        ],
    )


def json_formatter() -> logging.Formatter:
    """Formatter factory referenced from ``settings.LOGGING``; also configures structlog, so
    that both kinds of logger share this formatter from the first record on."""
    return _formatter(structlog.processors.JSONRenderer(sort_keys=True))


def console_formatter() -> logging.Formatter:
    """``make run``'s: one plain line per record (time, level, event, logger, then fields)."""
    return _formatter(
        structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )


FORMATTERS = {"json": json_formatter, "console": console_formatter}


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
