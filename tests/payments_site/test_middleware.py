"""Problem+json errors, request ids, health endpoints and the CSP header."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_unknown_api_path_is_problem_json() -> None:
    response = Client().get("/api/v1/nope")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


def test_method_not_allowed_is_problem_json(api_client: APIClient) -> None:
    response = api_client.delete("/api/v1/merchant")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "method_not_allowed"


def test_request_id_is_honoured_and_returned() -> None:
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="req-abc.123")

    assert response["X-Request-ID"] == "req-abc.123"


@pytest.mark.parametrize("bad", ["a" * 200, "x\ny", "<script>"])
def test_unsafe_request_id_is_replaced(bad: str) -> None:
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=bad)

    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32


def test_healthz_and_readyz() -> None:
    client = Client()

    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["counters"] == "ok"


def test_readyz_fails_when_the_counter_store_is_unreachable(settings: Any) -> None:
    # Port 1 on loopback refuses connections: a Redis that is down.
    settings.CACHES = {
        **settings.CACHES,
        "unreachable": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }
    settings.MONITORING_CACHE = "unreachable"

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["counters"] == "unavailable"


def test_readyz_reports_a_failing_dependency(settings: object) -> None:
    settings.READINESS_CHECKS = [  # type: ignore[attr-defined]
        "monitoring.observability.health.check_database",
        "tests.payments_site.test_middleware.broken_check",
    ]

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broken_check": "unavailable"},
    }


def broken_check() -> None:
    raise ConnectionError("down")


def test_csp_header_is_strict_with_a_nonce() -> None:
    response = Client().get("/admin/login/")

    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize(
    "url", ["/api/v1/tokens/tok_%00x", "/api/v1/tokens?status=%00", "/api/v1/merchant?x=a%00b"]
)
def test_nul_in_the_url_is_a_400_problem(api_client: APIClient, url: str) -> None:
    response = api_client.get(url)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "malformed_request"


def test_nul_in_a_page_url_is_a_plain_400() -> None:
    assert Client().get("/admin/login/?next=%00").status_code == 400
