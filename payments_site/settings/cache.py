"""Cache and counters: Redis when ``REDIS_URL`` is set (one store of counters, cool-offs and
throttles for every worker and server), else process-local for development and tests."""

from __future__ import annotations

from .environment import env

REDIS_URL: str = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "payments_site.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="tessera"),
            # A stalled Redis fails a request in about a second instead of holding a worker
            # until gunicorn's timeout; /readyz then reports it.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    # Development and tests only (production requires REDIS_URL). Sized so that the counters
    # are never culled: LocMem's default of 300 entries would drop them mid-run.
    CACHES = {
        "default": {
            "BACKEND": "payments_site.cache.LocalCache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# Cache alias holding lockout/anomaly counters and cool-offs: Redis when REDIS_URL is set.
MONITORING_CACHE = "default"
