"""Checkout page fixtures: a local keyring per test, a merchant's sessions, and the JWE a
shopper's browser would post for a session (``card_encrypt`` makes the same one)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from checkout.sessions.models import CheckoutSession
from checkout.sessions.transport import card_encrypt
from tests.cards import load_cards
from tests.factories import CheckoutSessionFactory
from tests.vault.conftest import keyring_path, template_keyring  # noqa: F401
from vault.envelope import data_keys
from vault.keys import KeyService, get_key_service
from vault.models import Merchant

CARDS = load_cards()
VISA = CARDS["approve"][0]["number"]
AMEX = next(c["number"] for c in CARDS["approve"] if c["brand"] == "amex")
DECLINED = next(c["number"] for c in CARDS["decline"] if c["failure_code"] == "card_declined")
LUHN_WRONG = next(c["number"] for c in CARDS["invalid"] if c["error_code"] == "incorrect_number")
NEXT_YEAR = dt.datetime.now(dt.UTC).year + 2


@pytest.fixture
def keys(settings: SettingsWrapper, keyring_path: Path) -> Iterator[KeyService]:  # noqa: F811
    settings.KEYS_BACKEND = settings.KEY_BACKENDS["local"]
    settings.LOCAL_KEYRING_PATH = keyring_path
    get_key_service.cache_clear()
    yield get_key_service()
    get_key_service.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_data_keys() -> Iterator[None]:
    """The vault caches its data key per process; a test's rollback deletes the row behind it."""
    data_keys.clear()
    yield
    data_keys.clear()


@pytest.fixture
def session_factory(merchant: Merchant) -> Callable[..., CheckoutSession]:
    def make(**kwargs: Any) -> CheckoutSession:
        kwargs.setdefault("merchant", merchant)
        kwargs.setdefault("success_url", "https://shop.example/thanks?order=42")
        session: CheckoutSession = CheckoutSessionFactory.create(**kwargs)
        return session

    return make


def card(number: str = VISA, **overrides: Any) -> dict[str, Any]:
    return {
        "number": number,
        "exp_month": 12,
        "exp_year": NEXT_YEAR,
        "cvc": "4321" if number == AMEX else "321",
        "name": "Ada Lovelace",
        **overrides,
    }


def jwe_for(session: CheckoutSession, number: str = VISA, **overrides: Any) -> str:
    """What the page's script posts for ``session`` as rendered now."""
    session.refresh_from_db()
    return card_encrypt(card(number, **overrides), session_id=session.pk, nonce=session.nonce)
