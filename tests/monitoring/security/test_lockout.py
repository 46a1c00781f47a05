"""Failed API-key attempts lock the source address out (PCI DSS 8.3.4), like axes does for
the admin login, without trusting a client's X-Forwarded-For."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from monitoring.audit.models import AuditEvent
from monitoring.security import lockout
from vault.merchants import IssuedKey

pytestmark = pytest.mark.django_db

WRONG = "Bearer sk_test_" + "x" * 43


def _attempt(auth: str, ip: str = "203.0.113.5", **extra: str) -> tuple[int, dict[str, str], dict]:
    meta: dict[str, Any] = {"HTTP_AUTHORIZATION": auth, "REMOTE_ADDR": ip, **extra}
    response = APIClient().get("/api/v1/merchant", **meta)
    return response.status_code, dict(response.headers), response.json()


def test_eleventh_attempt_after_ten_wrong_keys_is_locked_out(issued_key: IssuedKey) -> None:
    # given ten wrong keys from one address
    statuses = [_attempt(WRONG)[0] for _ in range(10)]

    # when the same address then presents a valid key
    status, headers, body = _attempt(f"Bearer {issued_key.secret}")

    # then the first ten were 401, and the address is locked for the cool-off, key or not
    assert statuses == [401] * 10
    assert status == 429
    assert headers["Content-Type"] == "application/problem+json"
    assert body["code"] == "too_many_failed_attempts"
    assert 1795 <= int(headers["Retry-After"]) <= 1800
    assert (
        AuditEvent.objects.filter(
            action="api_key.lockout", outcome="denied", source_ip="203.0.113.5"
        ).count()
        == 1
    )


def test_nine_wrong_keys_do_not_lock(issued_key: IssuedKey) -> None:
    for _ in range(9):
        _attempt(WRONG)

    assert _attempt(f"Bearer {issued_key.secret}")[0] == 200


def test_malformed_authorization_headers_count_too(issued_key: IssuedKey) -> None:
    for _ in range(10):
        assert _attempt("Basic Zm9vOmJhcg==")[0] == 401

    assert _attempt(f"Bearer {issued_key.secret}")[0] == 429


def test_another_address_is_not_affected(issued_key: IssuedKey) -> None:
    for _ in range(10):
        _attempt(WRONG, ip="203.0.113.5")

    assert _attempt(f"Bearer {issued_key.secret}", ip="198.51.100.7")[0] == 200


def test_x_forwarded_for_cannot_spread_attempts_without_trusted_proxies(
    issued_key: IssuedKey,
) -> None:
    # given an attacker who claims a new client address on every attempt
    for n in range(10):
        _attempt(WRONG, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")

    # then the attempts were all counted against the socket address
    assert _attempt(f"Bearer {issued_key.secret}", HTTP_X_FORWARDED_FOR="10.9.9.9")[0] == 429


def test_behind_one_trusted_proxy_the_rightmost_hop_counts(
    issued_key: IssuedKey, settings: object
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1  # type: ignore[attr-defined]
    proxy = "10.0.0.1"

    # given attempts through our proxy, each with a different spoofed left-hand entry
    for n in range(10):
        _attempt(WRONG, ip=proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.9")

    # then the client the proxy saw is locked out, another client behind the proxy is not
    locked = _attempt(f"Bearer {issued_key.secret}", ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.9")
    other = _attempt(f"Bearer {issued_key.secret}", ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.10")
    assert locked[0] == 429
    assert other[0] == 200


def test_lockout_ends_after_the_cool_off(
    issued_key: IssuedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(10):
        _attempt(WRONG)
    assert _attempt(f"Bearer {issued_key.secret}")[0] == 429

    # when 29 minutes have passed it is still locked; after 30 it is not
    now = time.time()
    monkeypatch.setattr(lockout.time, "time", lambda: now + 29 * 60)
    assert _attempt(f"Bearer {issued_key.secret}")[0] == 429
    monkeypatch.setattr(lockout.time, "time", lambda: now + 30 * 60 + 1)
    assert _attempt(f"Bearer {issued_key.secret}")[0] == 200


def test_failures_recorded_by_any_caller_lock_the_api(
    issued_key: IssuedKey,
) -> None:
    # given failures recorded through the monitoring API (as another app server would)
    for _ in range(10):
        lockout.credential_failure_record(kind="api_key", ip="203.0.113.5")

    # then this process sees the lock
    assert lockout.credential_lockout_remaining(kind="api_key", ip="203.0.113.5") > 1700
    assert _attempt(f"Bearer {issued_key.secret}")[0] == 429
