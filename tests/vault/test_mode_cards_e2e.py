"""A real card in test mode, on every entry path, against real gunicorn: refused with the field
error, and afterwards found nowhere (plain, spaced or dashed) in a full database dump or the
server's logs. Each search is first shown to find the number planted in that same text.

Entry paths: the hosted page without JavaScript (raw fields) and with it (a browser-made
JWE), the vault API (``POST /vault/v1/cards``, a sealed card JWT), and ``manage.py seal_card``
posted to the vault as its docstring shows.
"""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from checkout.sessions.transport import card_encrypt, card_seal
from payments_site.kernel.cards import luhn_valid
from tests.factories import CheckoutSessionFactory, MerchantFactory
from tests.monitoring.observability.test_redaction_e2e import database_dump
from tests.monitoring.security.test_engine_e2e import CSRF, NONCE, Caller
from tests.support.servers import gunicorn
from vault.envelope import data_keys
from vault.mode_cards import is_public_test_card
from vault.models import Merchant, Token

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MESSAGE = "Test mode takes test cards only"


def random_real_number() -> str:
    """A random Luhn-valid Visa number that is not a public test card."""
    while True:
        partial = "4" + "".join(secrets.choice("0123456789") for _ in range(14))
        for check in "0123456789":
            number = partial + check
            if luhn_valid(number) and not is_public_test_card(number):
                return number


def forms_of(number: str) -> set[str]:
    return set(_written(number))


def assert_absent(name: str, text: str, number: str) -> None:
    planted = f"{text}\n{' '.join(number[i : i + 4] for i in range(0, 16, 4))}"
    assert any(form in planted for form in forms_of(number)), name  # the search can fail
    assert [form for form in forms_of(number) if form in text] == [], f"{name} holds the card"


def _written(number: str) -> tuple[str, str, str]:
    """As a shopper may type it: plain, in spaced groups, in dashed groups."""
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    return number, " ".join(groups), "-".join(groups)


def _no_js_attempt(shopper: Caller, session_id: str, number: str) -> requests.Response:
    page = shopper.request("GET", f"/checkout/{session_id}/")
    nonce, csrf = NONCE.search(page.text), CSRF.search(page.text)
    assert nonce is not None and csrf is not None
    return shopper.request(
        "POST",
        f"/checkout/{session_id}/",
        headers={"Origin": shopper.server.url, "Referer": page.url},
        data={
            "csrfmiddlewaretoken": csrf.group(1),
            "nonce": nonce.group(1),
            "name": "Test Shopper",
            "number": number,
            "exp": "12 / 34",
            "cvc": "123",
        },
    )


def _js_attempt(shopper: Caller, session_id: str, number: str) -> requests.Response:
    page = shopper.request("GET", f"/checkout/{session_id}/")
    nonce, csrf = NONCE.search(page.text), CSRF.search(page.text)
    assert nonce is not None and csrf is not None
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    return shopper.request(
        "POST",
        f"/checkout/{session_id}/",
        headers={"Origin": shopper.server.url, "Referer": page.url},
        data={
            "csrfmiddlewaretoken": csrf.group(1),
            "nonce": nonce.group(1),
            "card_jwe": card_encrypt(card, session_id=session_id, nonce=nonce.group(1)),
        },
    )


def _vault_post(caller: Caller, sealed: str) -> requests.Response:
    return caller.request(
        "POST", "/vault/v1/cards", data=sealed, headers={"Content-Type": "application/jwt"}
    )


def _api_sealed(merchant: Merchant, number: str) -> str:
    session_id, nonce = f"cs_modes{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    jwe = card_encrypt(card, session_id=session_id, nonce=nonce)
    return card_seal(jwe, session_id=session_id, nonce=nonce, merchant_id=merchant.pk)


def _seal_card_command(merchant: Merchant, number: str, monkeypatch: pytest.MonkeyPatch) -> str:
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(card)))
    out = io.StringIO()
    call_command("seal_card", "--merchant", merchant.pk, stdout=out)
    return out.getvalue().strip()


def test_a_real_card_is_refused_in_test_mode_everywhere_and_kept_nowhere(
    tls_cert: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_keys.clear()
    number = random_real_number()
    merchant = MerchantFactory.create(name="Test Mode Shop")
    log_path = tmp_path / "gunicorn.log"
    statuses: dict[str, int] = {}
    bodies: dict[str, str] = {}

    with gunicorn(
        cert=tls_cert, workers=1, env={"AXES_PROXY_COUNT": "1", "LOG_LEVEL": "DEBUG"},
        log_path=log_path,
    ) as server:  # fmt: skip
        shopper = Caller(server, "198.51.100.7", requests.Session())
        for path, posted in zip(
            ("page", "page-spaced", "page-dashed"), _written(number), strict=True
        ):
            session = CheckoutSessionFactory.create(merchant=merchant, amount=700)
            response = _no_js_attempt(shopper, session.pk, posted)
            statuses[path], bodies[path] = response.status_code, response.text
        session = CheckoutSessionFactory.create(merchant=merchant, amount=700)
        js = _js_attempt(shopper, session.pk, number)
        statuses["page-js"], bodies["page-js"] = js.status_code, js.text
        checkout = Caller(server, "192.0.2.10", requests.Session())
        api = _vault_post(checkout, _api_sealed(merchant, number))
        statuses["api"], bodies["api"] = api.status_code, api.text
        command = _vault_post(checkout, _seal_card_command(merchant, number, monkeypatch))
        statuses["seal_card"], bodies["seal_card"] = command.status_code, command.text
        # and a public test card goes through, on the same server (the refusal is the rule)
        ok = _vault_post(checkout, _api_sealed(merchant, "4242424242424242"))
    logs = log_path.read_text()
    dump = database_dump()

    # then every path refused it with the field error, and made no token
    assert statuses == {
        "page": 422, "page-spaced": 422, "page-dashed": 422, "page-js": 422, "api": 422,
        "seal_card": 422,
    }  # fmt: skip
    for path in ("api", "seal_card"):
        errors = json.loads(bodies[path])["errors"]
        assert [(e["field"], e["code"]) for e in errors] == [("number", "test_mode_live_card")]
        assert MESSAGE in errors[0]["message"]
    for path in ("page", "page-spaced", "page-dashed", "page-js"):
        assert MESSAGE in bodies[path], path
    assert ok.status_code == 201
    assert Token.objects.count() == 1
    # and the number is nowhere: not in any answer, the database or the server's logs
    assert "card.ingest" in dump and "Test Mode Shop" in dump  # the dump is the real one
    assert len(logs.splitlines()) > 10
    for name, text in {**bodies, "database dump": dump, "server logs": logs}.items():
        assert_absent(name, text, number)
