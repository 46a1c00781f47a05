"""The real server: gunicorn serving Tessera over TLS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.servers import gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_gunicorn_serves_healthz_over_https(tls_cert: tuple[Path, Path]) -> None:
    with gunicorn(cert=tls_cert) as server:
        status, headers, body = server.get("/healthz")
        ready_status, _, ready_body = server.get("/readyz")

    assert server.url.startswith("https://localhost:")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert len(headers["X-Request-ID"]) == 32
    assert ready_status == 200
    assert json.loads(ready_body)["checks"] == {"database": "ok", "counters": "ok", "keys": "ok"}
