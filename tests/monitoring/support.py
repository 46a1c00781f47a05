"""Test-harness support for the append-only audit trail.

pytest-django empties every table between transactional tests with Django's ``flush``
(TRUNCATE on PostgreSQL, DELETE on SQLite), which the audit trail's triggers refuse. Only that
flush, in the test process, runs with the guard lifted; the guard itself is unchanged.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.operations import BaseDatabaseOperations

from monitoring.audit import audit_guard_lifted

_original_flush = BaseDatabaseOperations.execute_sql_flush


def _flush_with_guard_lifted(self: BaseDatabaseOperations, sql_list: Any) -> None:
    with audit_guard_lifted(self.connection):
        _original_flush(self, sql_list)


def allow_test_flush() -> None:
    BaseDatabaseOperations.execute_sql_flush = _flush_with_guard_lifted  # type: ignore[method-assign]


def monitoring_counters_reset() -> None:
    """Forget every lockout/anomaly counter and cool-off (only this run's, by key prefix).

    Counters live for minutes on the shared cache; without this, failures from the test
    client's 127.0.0.1 would add up across unrelated tests until one of them got a 429.
    """
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=cache.make_key("mon:*"), count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()
