"""Test-harness support for the append-only audit trail.

pytest-django empties every table between transactional tests with Django's ``flush``
(TRUNCATE on PostgreSQL, DELETE on SQLite), which the audit trail's triggers refuse. Only that
flush, in the test process, runs with the guard lifted; the guard itself is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.operations import BaseDatabaseOperations
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from monitoring.audit.guard import audit_guard_lifted

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


# --- Sentry capture ---------------------------------------------------------------------------


class CapturingTransport(Transport):
    """Keeps every envelope the SDK would have sent, as the JSON that would have left
    (``sentry_sdk.init(transport=CapturingTransport)`` in the test process)."""

    sent: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        collect_envelope(envelope, CapturingTransport.sent)


def collect_envelope(envelope: Envelope, into: list[dict[str, Any]]) -> None:
    for item in envelope.items:
        if item.payload.json is not None:
            into.append(item.payload.json)


@contextmanager
def sentry_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local HTTP endpoint that Sentry SDKs in other processes (gunicorn) send to: yields a
    DSN for it and the list of payloads received, decoded exactly as Sentry would read them
    (gzip, then the SDK's own envelope parser). Plain HTTP on loopback only."""
    import gzip
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            collect_envelope(Envelope.deserialize(body), received)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://public@127.0.0.1:{server.server_address[1]}/1", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
