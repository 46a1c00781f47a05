"""Failed API-key attempts lock the (address, key prefix) pair out (PCI DSS 8.3.4), like axes
does for the admin login, without trusting a client's X-Forwarded-For, and without letting
anyone who shares the address shut out a merchant's valid key."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from monitoring.audit.models import AuditEvent
from monitoring.security import lockout
from monitoring.security.models import SecurityAlert
from vault.merchants import IssuedKey

pytestmark = pytest.mark.django_db

WRONG = "Bearer sk_test_" + "x" * 43


def _attempt(auth: str, ip: str = "203.0.113.5", **extra: str) -> tuple[int, dict[str, str], dict]:
    meta: dict[str, Any] = {"HTTP_AUTHORIZATION": auth, "REMOTE_ADDR": ip, **extra}
    response = APIClient().get("/api/v1/merchant", **meta)
    return response.status_code, dict(response.headers), response.json()


def _guess_at(issued_key: IssuedKey) -> str:
    """A wrong key that shares ``issued_key``'s prefix: a guess at its remaining characters."""
    return f"Bearer {issued_key.secret[:12]}{'0' * (len(issued_key.secret) - 12)}"


def test_ten_wrong_keys_lock_their_prefix_from_that_address(issued_key: IssuedKey) -> None:
    # given ten wrong keys from one address
    statuses = [_attempt(WRONG)[0] for _ in range(10)]

    # when the same address then presents another key of that prefix
    status, headers, body = _attempt(WRONG)

    # then the first ten were 401, and the pair is locked for the cool-off
    assert statuses == [401] * 10
    assert status == 429
    assert headers["Content-Type"] == "application/problem+json"
    assert body["code"] == "too_many_failed_attempts"
    assert 1795 <= int(headers["Retry-After"]) <= 1800
    lockouts = AuditEvent.objects.filter(
        action="api_key.lockout", outcome="denied", source_ip="203.0.113.5"
    )
    assert [e.data["key_prefix"] for e in lockouts] == ["sk_test_xxxx"]


def test_a_valid_key_from_a_locked_address_still_works(issued_key: IssuedKey) -> None:
    # given twenty wrong keys from the address a merchant shares (a NAT, an unset proxy count)
    statuses = [_attempt(WRONG)[0] for _ in range(20)]

    # when the merchant calls with its own key from there
    status, _, body = _attempt(f"Bearer {issued_key.secret}")

    # then the guesses were refused and locked out, the merchant is served
    assert statuses == [401] * 10 + [429] * 10
    assert status == 200
    assert body["id"] == issued_key.api_key.merchant_id


def test_a_locked_prefix_refuses_even_the_valid_key_so_guesses_cannot_be_tested(
    issued_key: IssuedKey,
) -> None:
    # given ten guesses at the remaining characters of a known key prefix
    statuses = [_attempt(_guess_at(issued_key))[0] for _ in range(10)]

    # then the right key with that prefix is refused from that address, and served from another
    assert statuses == [401] * 10
    assert _attempt(f"Bearer {issued_key.secret}")[0] == 429
    assert _attempt(f"Bearer {issued_key.secret}", ip="198.51.100.7")[0] == 200


def test_bad_keys_raise_alerts_per_address_and_across_addresses(
    issued_key: IssuedKey, settings: Any
) -> None:
    settings.ANOMALY_RULES = {"api_keys.rejections.global": {"threshold": 15}}

    # given ten bad keys from one address and five from five others
    for _ in range(10):
        _attempt(WRONG)
    for n in range(5):
        _attempt(WRONG, ip=f"198.51.100.{n + 10}")

    # then the address and the whole deployment each raised one alert, neither cools off
    alerts = {(a.rule, a.scope, a.source): a for a in SecurityAlert.objects.all()}
    assert set(alerts) == {
        ("api_keys.rejections.ip", "ip", "203.0.113.5"),
        ("api_keys.rejections.global", "global", "all"),
    }
    assert all(a.cooloff_until is None for a in alerts.values())
    assert AuditEvent.objects.filter(action="security_alert.raise").count() == 2
    assert _attempt(f"Bearer {issued_key.secret}")[0] == 200


def test_nine_wrong_keys_do_not_lock(issued_key: IssuedKey) -> None:
    for _ in range(9):
        _attempt(_guess_at(issued_key))

    assert _attempt(f"Bearer {issued_key.secret}")[0] == 200


def test_malformed_authorization_headers_count_in_one_bucket(issued_key: IssuedKey) -> None:
    for header in ["Basic Zm9vOmJhcg==", "Bearer", "Bearer nonsense", "Token abc"] * 3:
        assert _attempt(header)[0] in (401, 429)

    assert _attempt("Bearer sk_live_")[0] == 429
    assert _attempt(f"Bearer {issued_key.secret}")[0] == 200


def test_another_address_is_not_affected(issued_key: IssuedKey) -> None:
    for _ in range(10):
        _attempt(_guess_at(issued_key), ip="203.0.113.5")

    assert _attempt(f"Bearer {issued_key.secret}", ip="198.51.100.7")[0] == 200


def test_x_forwarded_for_cannot_spread_attempts_without_trusted_proxies(
    issued_key: IssuedKey,
) -> None:
    # given an attacker who claims a new client address on every attempt
    for n in range(10):
        _attempt(_guess_at(issued_key), HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")

    # then the attempts were all counted against the socket address
    assert _attempt(f"Bearer {issued_key.secret}", HTTP_X_FORWARDED_FOR="10.9.9.9")[0] == 429


def test_behind_one_trusted_proxy_the_rightmost_hop_counts(
    issued_key: IssuedKey, settings: object
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1  # type: ignore[attr-defined]
    proxy = "10.0.0.1"

    # given attempts through our proxy, each with a different spoofed left-hand entry
    for n in range(10):
        _attempt(_guess_at(issued_key), ip=proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.9")

    # then the client the proxy saw is locked out, another client behind the proxy is not
    locked = _attempt(f"Bearer {issued_key.secret}", ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.9")
    other = _attempt(f"Bearer {issued_key.secret}", ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.10")
    assert locked[0] == 429
    assert other[0] == 200


def test_lockout_ends_after_the_cool_off(
    issued_key: IssuedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(10):
        _attempt(_guess_at(issued_key))
    assert _attempt(f"Bearer {issued_key.secret}")[0] == 429

    # when 29 minutes have passed it is still locked; after 30 it is not
    now = time.time()
    monkeypatch.setattr(lockout.time, "time", lambda: now + 29 * 60)
    assert _attempt(f"Bearer {issued_key.secret}")[0] == 429
    monkeypatch.setattr(lockout.time, "time", lambda: now + 30 * 60 + 1)
    assert _attempt(f"Bearer {issued_key.secret}")[0] == 200


def test_failures_recorded_by_any_caller_lock_the_api(issued_key: IssuedKey) -> None:
    # given failures recorded through the monitoring API (as another app server would)
    prefix = issued_key.secret[:12]
    for _ in range(10):
        lockout.credential_failure_record(kind="api_key", ip="203.0.113.5", prefix=prefix)

    # then this process sees the lock
    remaining = lockout.credential_lockout_remaining(ip="203.0.113.5", prefix=prefix)
    assert remaining > 1700
    assert _attempt(f"Bearer {issued_key.secret}")[0] == 429


@pytest.mark.parametrize(
    ("secret", "prefix"),
    [
        ("sk_test_AbC1rest", "sk_test_AbC1"),
        ("sk_live_0000", "sk_live_0000"),
        ("sk_test_Ab", "malformed"),
        ("sk_prod_AbC1rest", "malformed"),
        ("sk_test_Ab-1rest", "malformed"),
        ("", "malformed"),
    ],
)
def test_credential_prefix(secret: str, prefix: str) -> None:
    assert lockout.credential_prefix(secret) == prefix
