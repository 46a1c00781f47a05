"""Test cards in test mode, real cards in live mode (PCI DSS 6.5.5), at the vault."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from django.test import Client

from checkout.sessions.transport import card_encrypt, card_seal
from payments_site.kernel.cards import has_card_data, luhn_valid
from tests.cards import load_cards
from tests.factories import CheckoutSessionFactory
from tests.monitoring.security.test_engine_e2e import CSRF, NONCE
from vault.cards import Card, CardValidationError, card_validate
from vault.mode_cards import PUBLIC_TEST_CARD_DIGESTS, card_digest, is_public_test_card
from vault.models import Merchant, Token
from vault.services import card_fingerprint, token_create
from vault.transport.ingest import IngestRefused, card_ingest

pytestmark = pytest.mark.django_db

CARDS = load_cards()
PUBLIC = [c["number"] for c in CARDS["approve"] + CARDS["decline"] + CARDS["decline_at_capture"]]


def real_number() -> str:
    while True:
        partial = (
            "5" + secrets.choice("12345") + "".join(secrets.choice("0123456789") for _ in range(13))
        )
        for check in "0123456789":
            if luhn_valid(partial + check) and not is_public_test_card(partial + check):
                return partial + check


def _card(number: str) -> Card:
    return card_validate(number=number, exp_month=12, exp_year=2034, require_cvc=False)


def test_the_digests_are_exactly_the_public_test_cards() -> None:
    assert {card_digest(n) for n in PUBLIC} == PUBLIC_TEST_CARD_DIGESTS
    assert len(PUBLIC_TEST_CARD_DIGESTS) == len(PUBLIC)


def test_no_card_number_is_written_in_the_rule() -> None:
    source = (Path(__file__).parents[2] / "vault" / "mode_cards.py").read_text()
    assert not has_card_data(source)
    assert not any(n in source for n in PUBLIC)


@pytest.mark.parametrize("number", PUBLIC, ids=lambda n: n[-4:])
def test_test_mode_takes_every_public_test_card_and_live_mode_refuses_it(
    merchant: Merchant, number: str
) -> None:
    token = token_create(merchant=merchant.in_mode(False), card=_card(number), actor="test")
    assert token.livemode is False

    with pytest.raises(CardValidationError) as refused:
        token_create(merchant=merchant.in_mode(True), card=_card(number), actor="test")

    assert [(e.field, e.code) for e in refused.value.errors] == [("number", "live_mode_test_card")]
    assert "live mode takes real cards only" in refused.value.errors[0].message
    assert Token.objects.filter(livemode=True).count() == 0


def test_test_mode_refuses_a_real_card_and_live_mode_takes_it(merchant: Merchant) -> None:
    number = real_number()

    with pytest.raises(CardValidationError) as refused:
        token_create(merchant=merchant.in_mode(False), card=_card(number), actor="test")
    live = token_create(merchant=merchant.in_mode(True), card=_card(number), actor="test")

    error = refused.value.errors[0]
    assert (error.field, error.code) == ("number", "test_mode_live_card")
    assert error.message == (
        "Test mode takes test cards only: use one of the documented test card numbers."
    )
    assert number not in str(refused.value) and number[-4:] not in error.message
    assert (live.livemode, live.last4) == (True, number[-4:])
    assert Token.objects.count() == 1


def test_fingerprints_are_per_merchant_and_mode(merchant: Merchant) -> None:
    number = real_number()
    test = card_fingerprint(merchant_id=merchant.id, livemode=False, number=number)
    live = card_fingerprint(merchant_id=merchant.id, livemode=True, number=number)
    other = card_fingerprint(merchant_id="mer_other", livemode=True, number=number)
    assert len({test, live, other}) == 3
    assert live == card_fingerprint(merchant_id=merchant.id, livemode=True, number=number)


def _sealed(merchant: Merchant, number: str, *, livemode: bool) -> str:
    session_id, nonce = f"cs_mc{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    jwe = card_encrypt(card, session_id=session_id, nonce=nonce)
    return card_seal(
        jwe, session_id=session_id, nonce=nonce, merchant_id=merchant.pk, livemode=livemode
    )


def test_the_card_jwt_carries_the_mode_to_the_vault(merchant: Merchant) -> None:
    live = card_ingest(_sealed(merchant, real_number(), livemode=True))
    test = card_ingest(_sealed(merchant, PUBLIC[0], livemode=False))
    assert (live.token.livemode, test.token.livemode) == (True, False)
    with pytest.raises(CardValidationError) as refused:
        card_ingest(_sealed(merchant, PUBLIC[0], livemode=True))
    assert refused.value.errors[0].code == "live_mode_test_card"


def test_a_card_jwt_without_its_mode_is_refused(
    merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    import checkout.sessions.transport as transport

    original = transport.json.dumps

    def without_mode(obj: object, **kwargs: object) -> str:
        if isinstance(obj, dict) and "livemode" in obj and "mer" in obj:
            obj = {k: v for k, v in obj.items() if k != "livemode"}
        return original(obj, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(transport.json, "dumps", without_mode)
    sealed = _sealed(merchant, PUBLIC[0], livemode=False)
    monkeypatch.undo()

    with pytest.raises(IngestRefused) as refused:
        card_ingest(sealed)
    assert "livemode" in refused.value.message
    assert Token.objects.count() == 0


@pytest.mark.parametrize("livemode", [False, True], ids=["test", "live"])
def test_the_hosted_page_applies_its_sessions_mode(merchant: Merchant, livemode: bool) -> None:
    session = CheckoutSessionFactory.create(merchant=merchant.in_mode(livemode), amount=900)
    wrong = PUBLIC[0] if livemode else real_number()
    client = Client()
    page = client.get(f"/checkout/{session.pk}/")
    nonce, csrf = NONCE.search(page.content.decode()), CSRF.search(page.content.decode())
    assert nonce is not None and csrf is not None

    posted = client.post(
        f"/checkout/{session.pk}/",
        {
            "csrfmiddlewaretoken": csrf.group(1),
            "nonce": nonce.group(1),
            "name": "A Shopper",
            "number": wrong,
            "exp": "12 / 34",
            "cvc": "123",
        },
    )

    html = posted.content.decode()
    assert posted.status_code == 422
    expected = "live mode takes real cards only" if livemode else "Test mode takes test cards only"
    assert expected in html
    assert wrong not in html and json.dumps(wrong) not in html
    assert Token.objects.count() == 0
