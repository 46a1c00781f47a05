"""Fixed clocks for ``settings.CHECKOUT_CLOCK`` in tests."""

from __future__ import annotations

from datetime import UTC, datetime


def february_2031() -> datetime:
    return datetime(2031, 2, 1, 12, 0, tzinfo=UTC)
