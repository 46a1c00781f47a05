"""Readiness check for the key service (listed in ``settings.READINESS_CHECKS``)."""

from __future__ import annotations

from .keys import get_key_service


def check_keys() -> None:
    """Raises unless every key of the configured backend is usable (``/readyz`` → 503)."""
    get_key_service().health_check()
