"""Error reporting without secrets: Sentry, switched on by ``SENTRY_DSN``.

Three layers, because each misses something the others catch:

1. ``send_default_pii=False``: no cookies, user, IP or auth headers are attached at all.
2. Sentry's ``EventScrubber`` (recursive) with our card words added to its deny list: values
   under keys such as ``number``, ``cvc``, ``card``, ``jwe`` are replaced wherever they sit.
3. ``before_send`` / ``before_breadcrumb`` run ``monitoring.observability.redaction.redact``
   over the whole event: sensitive keys again, and any Luhn-valid 13–19 digit number inside
   any string — exception messages, log messages, breadcrumbs, request bodies and stack-frame
   locals.

A scrubbing failure drops the event rather than sending it unscrubbed.
"""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk
from django.conf import settings
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber
from sentry_sdk.transport import Transport

from monitoring.observability.redaction import redact

logger = logging.getLogger(__name__)
# Our own complaints about scrubbing must never become Sentry events themselves (a scrubber
# bug would otherwise feed on its own reports).
ignore_logger(__name__)

CARD_DENYLIST = [
    "number",
    "card_number",
    "cardnumber",
    "pan",
    "cvc",
    "cvv",
    "cvc2",
    "cvv2",
    "csc",
    "card",
    "card_jwe",
    "jwe",
    "jwt",
    "track",
    "pin",
    # Not card data, but secrets of a page that takes cards: the form's CSRF token and the
    # one-attempt page nonce.
    "csrfmiddlewaretoken",
    "nonce",
]


def scrub_event(event: Any, hint: Any) -> Any:
    """``before_send``: the whole event through the log redactor; on any error, drop it."""
    try:
        return redact(event)
    except Exception:
        logger.error("sentry_event_dropped_scrub_failed")
        return None


def scrub_breadcrumb(crumb: Any, hint: Any) -> Any:
    try:
        return redact(crumb)
    except Exception:
        return None


def sentry_init(
    *,
    dsn: str,
    environment: str = "production",
    release: str | None = None,
    traces_sample_rate: float = 0.0,
    transport: type[Transport] | Transport | None = None,
) -> None:
    """Start Sentry with every scrubbing layer on. ``transport`` is for tests only."""
    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        send_default_pii=False,
        include_local_variables=True,
        max_request_body_size="medium",
        event_scrubber=EventScrubber(denylist=DEFAULT_DENYLIST + CARD_DENYLIST, recursive=True),
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=traces_sample_rate,
        integrations=[
            DjangoIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        **options,
    )


def sentry_init_from_settings() -> None:
    """Called once per process from ``MonitoringConfig.ready``; does nothing without a DSN."""
    dsn = getattr(settings, "SENTRY_DSN", "")
    if dsn:
        sentry_init(
            dsn=dsn,
            environment=getattr(settings, "SENTRY_ENVIRONMENT", "production"),
            release=getattr(settings, "SENTRY_RELEASE", None) or None,
            traces_sample_rate=getattr(settings, "SENTRY_TRACES_SAMPLE_RATE", 0.0),
        )
