"""Per-API-key rate limit on the shared cache.

A fixed window counted in the monitoring counter store (Redis INCR and EXPIRE in one round
trip when ``REDIS_URL`` is set), so every app server shares one counter per key. DRF's
``SimpleRateThrottle`` keeps a list of timestamps read and written back without a lock, which
under-counts under concurrency.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from monitoring.security.counters import counter_store
from vault.models import ApiKey

if TYPE_CHECKING:  # DRF imports this module while defining APIView: no runtime import back
    from rest_framework.request import Request
    from rest_framework.views import APIView

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600}
PERIODS["hour"] = 3600


def parse_rate(rate: str) -> tuple[int, int]:
    """``"100/second"`` → ``(100, 1)``."""
    count, _, unit = rate.partition("/")
    return int(count), PERIODS[unit.strip().lower()]


class ApiKeyRateThrottle(BaseThrottle):
    """``settings.API_THROTTLE_RATE`` requests per API key; unauthenticated requests are
    rejected before throttling or belong to public views (the docs)."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        if api_key is None:
            return True
        limit, period = parse_rate(settings.API_THROTTLE_RATE)
        now = time.time()
        window = int(now // period)
        count = counter_store().incr(f"throttle:{api_key.pk}:{period}:{window}", ttl=period + 1)
        if count > limit:
            self._wait = period - (now % period)
            return False
        return True

    def wait(self) -> float | None:
        return self._wait
