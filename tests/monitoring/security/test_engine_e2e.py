"""A simulated card-testing run — 60 attempts with distinct declined and
invalid cards from one address in well under a minute — through the real hosted page (HTTP
no-JavaScript form posts) and through the API (``POST /api/v1/charges`` on tokens), against
real gunicorn with TLS. Each run raises exactly one alert for that source, which then gets
429s with Retry-After; normal traffic from another address in the same minute is untouched.

Several source addresses over loopback: the server runs with one trusted proxy
(``AXES_PROXY_COUNT=1``, read as ``settings.TRUSTED_PROXY_COUNT``) and each request carries the
``X-Forwarded-For`` line that proxy would append. That is exactly how production behind one
load balancer works: ``monitoring.observability.clientip.client_ip`` takes the right-most entry
(the one our proxy wrote) and ignores anything the client put further left, as the spoofing
request in the page run shows.

Counters live on the shared store: with ``REDIS_URL`` (CI's PostgreSQL run) two workers share
them; without it each worker would count alone, so the server runs one worker.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from checkout.sessions.models import CheckoutSession
from monitoring.security.models import SecurityAlert
from monitoring.security.rules import api_client_source
from payments_site.kernel.cards import luhn_valid
from tests.factories import CheckoutSessionFactory, MerchantFactory, TokenFactory
from tests.support.servers import RunningServer, gunicorn
from vault.envelope import data_keys
from vault.merchants import api_key_create
from vault.mode_cards import is_public_test_card
from vault.models import Merchant

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ATTACKER = "203.0.113.66"
SHOPPER = "198.51.100.23"
ATTEMPTS = 60
NONCE = re.compile(r'name="nonce" value="([A-Za-z0-9_]+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def declined_numbers(count: int, *, seed: int = 0) -> list[str]:
    """Distinct Luhn-valid live-mode numbers a processor declines (BIN 400000, last four 0002,
    as the public ``card_declined`` test card, but not that card): different cards, one
    outcome. Card testers use real cards, so these tests run in live mode."""
    out: list[str] = []
    middle = seed * 10_000
    while len(out) < count:
        number = f"400000{middle:06d}0002"
        if luhn_valid(number) and not is_public_test_card(number):
            out.append(number)
        middle += 1
    return out


def approved_number(seed: int) -> str:
    """A live-mode number a processor approves (no public test card, no decline pattern)."""
    middle = seed * 1_000
    while True:
        number = f"411111{middle:010d}"
        if luhn_valid(number) and not is_public_test_card(number):
            return number
        middle += 1


def invalid_numbers(count: int) -> list[str]:
    """Distinct numbers that fail the Luhn check (refused before any token exists)."""
    out: list[str] = []
    for i in range(count * 10):
        number = f"4242{i:012d}"
        if not luhn_valid(number):
            out.append(number)
        if len(out) == count:
            break
    return out


@dataclass
class Caller:
    """An HTTP client whose requests reach the server as if through our one proxy."""

    server: RunningServer
    ip: str
    http: requests.Session

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-Forwarded-For": self.ip, **kwargs.pop("headers", {})}
        return self.http.request(
            method,
            self.server.url + path,
            headers=headers,
            verify=str(self.server.cafile),
            allow_redirects=False,
            timeout=30,
            **kwargs,
        )


@pytest.fixture
def server(tls_cert: tuple[Path, Path], tmp_path: Path) -> Iterator[RunningServer]:
    data_keys.clear()  # a row an earlier test's flush deleted must not be used to seal
    workers = 2 if os.environ.get("REDIS_URL") else 1
    env = {"AXES_PROXY_COUNT": "1", "DATA_KEY_MAX_USES": "1"}
    with gunicorn(
        cert=tls_cert, workers=workers, env=env, log_path=tmp_path / "gunicorn.log"
    ) as running:
        yield running
    data_keys.clear()


def caller(server: RunningServer, ip: str) -> Caller:
    return Caller(server=server, ip=ip, http=requests.Session())


def _session(merchant: Merchant) -> CheckoutSession:
    """A live-mode session: card testing is about real cards."""
    session: CheckoutSession = CheckoutSessionFactory.create(
        merchant=merchant.in_mode(True), amount=500
    )
    return session


def page_attempt(who: Caller, session: CheckoutSession, number: str, *, cvc: str = "739") -> int:
    """One shopper's try without JavaScript: open the page, post the card fields."""
    page = who.request("GET", f"/checkout/{session.pk}/")
    if page.status_code != 200:
        return page.status_code
    nonce, csrf = NONCE.search(page.text), CSRF.search(page.text)
    assert nonce is not None and csrf is not None
    # As a browser posts the form: its CSRF cookie and token, and the page's origin.
    posted = who.request(
        "POST",
        f"/checkout/{session.pk}/",
        headers={"Origin": who.server.url, "Referer": page.url},
        data={
            "csrfmiddlewaretoken": csrf.group(1),
            "nonce": nonce.group(1),
            "name": "Card Tester",
            "number": number,
            "exp": "12 / 34",
            "cvc": cvc,
        },
    )
    return posted.status_code


def test_card_testing_through_the_page_raises_one_alert_then_429s(
    server: RunningServer,
) -> None:
    # given a shop, a session per attempt (the tester reloads the shop's pay button), and
    # cards: two declined by the processor for every one refused as invalid
    merchant = MerchantFactory.create(name="Page Shop")
    sessions = [_session(merchant) for _ in range(ATTEMPTS)]
    declined, invalid = declined_numbers(40), invalid_numbers(20)
    cards = [invalid.pop() if i % 3 == 2 else declined.pop() for i in range(ATTEMPTS)]
    assert len(set(cards)) == ATTEMPTS
    attacker, shopper = caller(server, ATTACKER), caller(server, SHOPPER)
    before = page_attempt(shopper, _session(merchant), approved_number(1))

    # when one address tries 60 cards in a row, as fast as the server answers
    statuses = [page_attempt(attacker, s, n) for s, n in zip(sessions, cards, strict=True)]
    # and during the cool-off another shopper pays, and the tester claims another address
    during = page_attempt(shopper, _session(merchant), approved_number(2))
    spoofed = attacker.request(
        "GET",
        f"/checkout/{sessions[-1].pk}/",
        headers={"X-Forwarded-For": f"192.0.2.1, {ATTACKER}"},
    )
    blocked = attacker.request("GET", f"/checkout/{sessions[-1].pk}/")

    # then the first ten were answered (declined or refused): the tenth failure from one
    # address fires card_testing.failures.ip; every later attempt got the friendly 429
    # (one more is answered when the run straddles a window edge: the sliding estimate weighs
    # the previous window's failures a hair under one)
    answered = [s for s in statuses if s != 429]
    assert answered in ([402, 402, 422] * 3 + [402], [402, 402, 422] * 3 + [402, 402]), statuses
    assert statuses == answered + [429] * (ATTEMPTS - len(answered))
    assert blocked.status_code == 429
    assert 1700 < int(blocked.headers["Retry-After"]) <= 1800
    assert "Please wait a moment" in blocked.text
    assert spoofed.status_code == 429  # the client's own X-Forwarded-For entry is ignored
    # and exactly one alert exists, for that address
    alerts = list(SecurityAlert.objects.all())
    assert [(a.rule, a.scope, a.source, a.severity) for a in alerts] == [
        ("card_testing.failures.ip", "ip", ATTACKER, "critical")
    ]
    # and the other shopper paid before and during the attack
    assert (before, during) == (303, 303)


def test_card_testing_through_the_api_raises_one_alert_then_429s(
    server: RunningServer,
) -> None:
    # given a merchant with tokens for 60 distinct cards that the processor declines
    merchant = MerchantFactory.create(name="API Shop")
    key = api_key_create(merchant=merchant, mode="live").secret
    live = merchant.in_mode(True)
    tokens = [
        TokenFactory.create(merchant=live, number=n) for n in declined_numbers(ATTEMPTS, seed=7)
    ]
    good = TokenFactory.create(merchant=live, number=approved_number(3))
    auth = {"Authorization": f"Bearer {key}"}
    attacker, other = caller(server, ATTACKER), caller(server, SHOPPER)

    def charge(who: Caller, token_id: str) -> requests.Response:
        return who.request(
            "POST",
            "/api/v1/charges",
            json={"token": token_id, "amount": 500, "currency": "EUR"},
            headers={**auth, "Idempotency-Key": secrets.token_hex(16)},
        )

    # when one address charges them all in a row
    answers = [charge(attacker, t.pk) for t in tokens]
    # and the merchant's other server charges a good card and reads its charges meanwhile
    during = charge(other, good.pk)
    listing = attacker.request("GET", "/api/v1/charges?limit=1", headers=auth)

    # then the first twenty were declined, which is when the rule fired; the rest got 429
    # (one more gets through when the run straddles a window edge: the sliding estimate
    # weighs the previous window's attempts a hair under one)
    statuses = [a.status_code for a in answers]
    fired_after = statuses.index(429)
    assert fired_after in (20, 21), statuses
    assert statuses == [201] * fired_after + [429] * (ATTEMPTS - fired_after)
    assert {a.json()["failure_code"] for a in answers[:fired_after]} == {"card_declined"}
    refused = answers[fired_after]
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "too_many_attempts"
    assert 1700 < int(refused.headers["Retry-After"]) <= 1800
    # and exactly one alert exists for that source; the merchant-wide decline-ratio alert
    # tells operators about it without stopping the merchant's other traffic
    source = api_client_source(merchant_id=merchant.pk, ip=ATTACKER)
    alerts = sorted((a.scope, a.source, a.rule) for a in SecurityAlert.objects.all())
    assert alerts == [
        ("client", source, "card_testing.declines.client"),
        ("merchant", merchant.pk, "declines.merchant_ratio"),
    ]
    assert SecurityAlert.objects.get(scope="merchant").cooloff_until is None
    assert during.status_code == 201 and during.json()["status"] == "succeeded"
    assert listing.status_code == 200
