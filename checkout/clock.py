"""The checkout's notion of "now", injectable so that billing can be driven through a
simulated year without sleeping.

``settings.CHECKOUT_CLOCK`` names a zero-argument callable; services also take an explicit
``now=`` argument (Celery tasks and ``run_billing --now`` pass one), which wins.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils.module_loading import import_string


def clock_now(now: datetime | None = None) -> datetime:
    """``now`` if given, else the configured clock's current time (always timezone-aware)."""
    if now is not None:
        if now.tzinfo is None:
            raise ValueError("The checkout clock needs timezone-aware datetimes.")
        return now
    value: datetime = import_string(settings.CHECKOUT_CLOCK)()
    return value
