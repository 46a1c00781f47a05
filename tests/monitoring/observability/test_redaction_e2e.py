"""Every public test card through the real hosted page (no-JavaScript
form posts) and the API (``POST /vault/v1/cards``, then ``POST /api/v1/charges`` on the
tokens), against real gunicorn with TLS, Sentry pointed at a local HTTP receiver, JSON logs
captured from the server, and Prometheus multi-process metrics on. Then a card-testing burst
raises an alert in the middle of a card post, so Sentry gets an event built from a request
whose body holds a card.

Afterwards none of these holds a card number (plain, spaced or dashed) or a CVC used: the
server's logs, the Sentry payloads received, ``/metrics`` (fetched with the bearer token), a
full database dump (``pg_dump`` / SQLite ``iterdump``), and the admin as an MFA-verified
operator sees it — the index, the overview, every registered model's changelist and the
change pages of its objects (the audit trail included). Each search is first shown to find a
planted card in that same text, so the check can fail.

The CVCs start with a zero: rendered numbers (counts, pixels, ports, statuses, amounts) never
do, and the search requires that no digit, letter, ``.``, ``:``, ``-``, ``_``, ``/`` or ``+``
touches them, so timestamps, decimals, ids and base64 cannot match by accident.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db import connection
from django.test import Client
from django.urls import reverse

from checkout.sessions.transport import card_encrypt, card_seal
from monitoring.security.models import SecurityAlert
from tests.cards import load_cards
from tests.factories import CheckoutSessionFactory, MerchantFactory
from tests.monitoring.security.test_engine_e2e import Caller, page_attempt
from tests.monitoring.support import sentry_receiver
from tests.support.servers import gunicorn
from vault.envelope import data_keys
from vault.merchants import api_key_create
from vault.models import Merchant

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:The send_default_pii option is deprecated"),
]

CARDS = load_cards()
CVC3, CVC4 = "047", "0583"
METRICS_TOKEN = secrets.token_urlsafe(24)
TESTER = "203.0.113.200"
ADMIN_CHANGE_PAGES_PER_MODEL = 40


def all_cards() -> list[tuple[str, str, str]]:
    """(number as posted, kind, expected outcome) for every public test card."""
    out = [(c["number"], "approve", "succeeded") for c in CARDS["approve"]]
    out += [(c["number"], "decline", c["failure_code"]) for c in CARDS["decline"]]
    out += [(c["number"], "invalid", c["error_code"]) for c in CARDS["invalid"]]
    return out


def cvc_for(number: str) -> str:
    return CVC4 if number.startswith(("34", "37")) else CVC3


def forms_of(number: str) -> set[str]:
    """How a card number may be written: plain, in groups of four (or Amex 4-6-5) spaced and
    dashed. A string of fewer than 12 digits is not a card number (``1234``, ``""``)."""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 12:
        return set()
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    out = {digits, number, " ".join(groups), "-".join(groups)}
    if len(digits) == 15:
        amex = [digits[:4], digits[4:10], digits[10:]]
        out |= {" ".join(amex), "-".join(amex)}
    return out


def _cvc_pattern(cvc: str) -> re.Pattern[str]:
    edge = r"[A-Za-z0-9.:\-_/+]"
    return re.compile(rf"(?<!{edge}){cvc}(?!{edge})")


def leaks(text: str) -> list[str]:
    """Every card number form and CVC found in ``text``."""
    found = [f for n, _, _ in all_cards() for f in sorted(forms_of(n)) if f in text]
    found += [cvc for cvc in (CVC3, CVC4) if _cvc_pattern(cvc).search(text)]
    return found


def assert_no_card(name: str, text: str) -> None:
    # the search finds a planted card and CVC in this very text (it can fail) ...
    planted = f'{text}\n{{"number": "4242 4242 4242 4242", "cvc": "{CVC3}"}}\ncvc={CVC4}&'
    assert set(leaks(planted)) >= {"4242 4242 4242 4242", CVC3, CVC4}, name
    # ... and finds none in the text itself
    assert leaks(text) == [], f"{name} holds card data"


def _session(merchant: Merchant) -> Any:
    return CheckoutSessionFactory.create(merchant=merchant, amount=1250)


def database_dump() -> str:
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        with sqlite3.connect(settings["NAME"]) as db:
            return "\n".join(db.iterdump())
    env = {**os.environ, "PGPASSWORD": settings["PASSWORD"] or ""}
    return subprocess.run(
        [
            "pg_dump",
            "--host", settings["HOST"] or "127.0.0.1",
            "--port", str(settings["PORT"] or 5432),
            "--username", settings["USER"] or "postgres",
            "--no-owner",
            settings["NAME"],
        ],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def admin_pages(client: Client) -> dict[str, str]:
    """Every page an operator reads: the index (the overview), each registered model's
    changelist and the change pages of its newest objects."""
    urls = [reverse("admin:index")]  # the landing page is the overview
    site = admin.site
    for model in site._registry:
        opts = model._meta
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        newest = model._default_manager.order_by("-pk").values_list("pk", flat=True)
        for pk in newest[:ADMIN_CHANGE_PAGES_PER_MODEL]:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(pk)])
            urls.append(url)
    pages = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        pages[url] = response.content.decode()
    return pages


def wait_for(check: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def test_no_card_number_or_cvc_in_logs_sentry_metrics_database_or_admin(
    tls_cert: tuple[Path, Path], tmp_path: Path, admin_client: Client
) -> None:
    data_keys.clear()
    merchant = MerchantFactory.create(name="Sweep Shop")
    key = api_key_create(merchant=merchant).secret
    auth = {"Authorization": f"Bearer {key}"}
    log_path = tmp_path / "gunicorn.log"
    (tmp_path / "prom").mkdir()
    page_statuses: dict[str, int] = {}
    api_outcomes: dict[str, str] = {}

    with sentry_receiver() as (dsn, sentry_sent):
        env = {
            "AXES_PROXY_COUNT": "1",
            "DATA_KEY_MAX_USES": "1",
            "LOG_LEVEL": "DEBUG",
            "SENTRY_DSN": dsn,
            "SENTRY_ENVIRONMENT": "e2e",
            "METRICS_BEARER_TOKEN": METRICS_TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
        }
        workers = 2 if os.environ.get("REDIS_URL") else 1
        with gunicorn(cert=tls_cert, workers=workers, env=env, log_path=log_path) as server:
            # when every card goes through the page, each from its own shopper
            for i, (number, _, _) in enumerate(all_cards()):
                shopper = Caller(server, f"198.51.100.{i + 1}", requests.Session())
                page_statuses[number] = page_attempt(
                    shopper, _session(merchant), number, cvc=cvc_for(number)
                )
            # and through the API: sealed by a checkout, tokenized by the vault, charged
            checkout = Caller(server, "192.0.2.10", requests.Session())
            for i, (number, _, _) in enumerate(all_cards()):
                api_outcomes[number] = _api_attempt(checkout, merchant, auth, number, i)
            # and a merchant puts card numbers where token ids belong (the access log has paths)
            path_statuses = {
                form: requests.get(
                    f"{server.url}/api/v1/tokens/{form}",
                    headers=auth,
                    verify=str(server.cafile),
                    timeout=10,
                ).status_code
                for number, kind, _ in all_cards()
                if kind == "approve"
                for form in forms_of(number)
            }
            # and a card tester trips a rule in the middle of a card post
            tester = Caller(server, TESTER, requests.Session())
            burst = [c for c in all_cards() if c[1] != "approve"] * 2
            tester_statuses = [
                page_attempt(tester, _session(merchant), n, cvc=cvc_for(n)) for n, _, _ in burst
            ]
            metrics = requests.get(
                server.url + "/metrics",
                headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                verify=str(server.cafile),
                timeout=10,
            )
            assert wait_for(lambda: any(_is_alert(e) for e in sentry_sent))
        # (gunicorn has stopped: its workers flushed Sentry and the log on the way out)
        logs = log_path.read_text()
        sentry_json = json.dumps(sentry_sent)

    dump = database_dump()
    pages = admin_pages(admin_client)

    # then every card had the outcome its test card promises, through both paths
    for number, kind, outcome in all_cards():
        expected_page = {"approve": 303, "decline": 402, "invalid": 422}[kind]
        assert page_statuses[number] == expected_page, number
        assert api_outcomes[number] == outcome, number
    assert 429 in tester_statuses and SecurityAlert.objects.filter(source=TESTER).count() == 1
    # and each capture is real: it holds what it should
    assert '"security_alert"' in logs
    assert len(logs.splitlines()) > 100  # JSON records and gunicorn's access lines
    assert set(path_statuses.values()) == {404}
    assert '"event": "GET /api/v1/tokens/[REDACTED-PAN] 404"' in logs  # access lines, masked
    alert_events = [e for e in sentry_sent if _is_alert(e)]
    assert alert_events and alert_events[0].get("request", {}).get("method") == "POST"
    # (the alert fired in a card post: Sentry had its body, and scrubbed the card fields)
    posted = alert_events[0]["request"]["data"]
    assert posted["number"] == posted["cvc"] == "[REDACTED]"  # our before_send
    assert posted["csrfmiddlewaretoken"] == posted["nonce"] == "[Filtered]"  # the SDK's scrubber
    assert metrics.status_code == 200
    assert re.search(r"^tessera_tokenizations_total [1-9]", metrics.text, re.M)
    assert 'tessera_charges_total{status="failed"}' in metrics.text
    assert "tok_" in dump and "monitoring_auditevent" in dump
    assert any("Sweep Shop" in html for html in pages.values())
    # and none holds a card number or a CVC
    assert_no_card("server logs", logs)
    assert_no_card("Sentry payloads", sentry_json)
    assert_no_card("/metrics", metrics.text)
    assert_no_card("database dump", dump)
    for url, html in pages.items():
        assert_no_card(f"admin page {url}", html)


def _is_alert(event: dict[str, Any]) -> bool:
    return str(event.get("message") or event.get("logentry", {}).get("message", "")).startswith(
        "Security alert"
    )


def _api_attempt(
    checkout: Caller, merchant: Merchant, auth: dict[str, str], number: str, i: int
) -> str:
    """A merchant integration: the card sealed for the vault, then charged by token."""
    session_id, nonce = f"cs_sweep{i}", secrets.token_urlsafe(12)
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": cvc_for(number)}
    jwe = card_encrypt(card, session_id=session_id, nonce=nonce)
    sealed = card_seal(
        jwe,
        session_id=session_id,
        nonce=nonce,
        merchant_id=merchant.pk,
        client_ip=f"192.0.2.{100 + i}",
    )
    tokenized = checkout.request(
        "POST", "/vault/v1/cards", data=sealed, headers={"Content-Type": "application/jwt"}
    )
    if tokenized.status_code != 201:
        errors = tokenized.json().get("errors") or [{"code": tokenized.json()["code"]}]
        return str(errors[0]["code"])
    charged = checkout.request(
        "POST",
        "/api/v1/charges",
        json={"token": tokenized.json()["token"], "amount": 1250, "currency": "EUR"},
        headers={**auth, "Idempotency-Key": secrets.token_hex(16)},
    )
    assert charged.status_code == 201, charged.text
    body = charged.json()
    return "succeeded" if body["status"] == "succeeded" else str(body["failure_code"])
