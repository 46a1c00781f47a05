"""Fixtures for the checkout suites: tokens made through the vault's real ``token_create``
(``tests.factories.TokenFactory``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import override_settings

from tests.cards import load_cards
from tests.factories import MerchantFactory, TokenFactory
from vault.envelope import data_keys
from vault.models import Merchant, Token

CARDS = load_cards()
APPROVED = CARDS["approve"][0]["number"]
DECLINES = {card["failure_code"]: card["number"] for card in CARDS["decline"]}


@pytest.fixture(autouse=True)
def _fresh_data_keys() -> Iterator[None]:
    """The vault caches its sealing data key per process; a test's rollback or flush deletes
    the row behind it, so every test starts (and ends) without one."""
    data_keys.clear()
    yield
    data_keys.clear()


@pytest.fixture
def token_factory(merchant: Merchant) -> Callable[..., Token]:
    def factory(**kwargs: Any) -> Token:
        kwargs.setdefault("merchant", merchant)
        token: Token = TokenFactory.create(**kwargs)
        return token

    return factory


@pytest.fixture
def token(token_factory: Callable[..., Token]) -> Token:
    return token_factory()


@pytest.fixture
def other_merchant(db: None) -> Merchant:
    other: Merchant = MerchantFactory.create(name="Other Shop")
    return other


@pytest.fixture
def processor_fault() -> Iterator[Callable[[str], None]]:
    """``processor_fault("timeout_after")`` injects a sandbox fault until the test ends."""
    overrides: list[Any] = []

    def set_fault(fault: str) -> None:
        while overrides:
            overrides.pop().disable()
        override = override_settings(PROCESSOR_OPTIONS={"latency_ms": 0, "fault": fault})
        override.enable()
        overrides.append(override)

    yield set_fault
    while overrides:
        overrides.pop().disable()


def at(text: str) -> datetime:
    """``at("2030-01-31")`` → midnight UTC that day; full ISO strings work too."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
