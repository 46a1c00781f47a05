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


def totp_now(device: Any, *, offset_steps: int = 0) -> str:
    """The code an authenticator app shows for ``device`` now (or ``offset_steps`` later)."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


def otp_verified_login(client: Any, user: Any) -> Any:
    """Log ``client`` in as ``user`` with a confirmed second factor, as the admin requires.

    For tests of admin pages; the login flow itself is tested in tests/monitoring.
    """
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
