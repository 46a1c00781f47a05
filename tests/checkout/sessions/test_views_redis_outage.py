"""Redis, which holds the card-testing counters, stops answering.

A request whose limits cannot be checked is refused before any work with 503 and Retry-After
(problem+json for the API and the vault, a short page for shoppers): nothing is stored,
claimed or charged, and the same request works once Redis is back. A signal recorded *after*
the work (a card stored) is logged instead, so that work's answer is not lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.test import APIClient

from checkout.payments.models import Charge
from checkout.sessions.models import CheckoutSession
from checkout.sessions.transport import card_seal
from monitoring.security.counters import Op, counter_store
from tests.checkout.sessions.conftest import jwe_for
from tests.checkout.sessions.test_views import page_url, raw_post
from tests.factories import TokenFactory
from vault.keys import KeyService
from vault.models import Merchant, Token, UsedJti
from vault.transport.ingest import card_ingest

pytestmark = pytest.mark.django_db

Factory = Callable[..., CheckoutSession]


@pytest.fixture
def redis_down(settings: SettingsWrapper) -> Callable[[bool], None]:
    """Point the counter store at a closed loopback port (a Redis that is down), and back."""
    settings.CACHES = {
        **settings.CACHES,
        "unreachable": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }

    def switch(down: bool) -> None:
        settings.MONITORING_CACHE = "unreachable" if down else "default"

    switch(True)
    return switch


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "service_unavailable"


def sealed_for(session: CheckoutSession) -> str:
    return card_seal(
        jwe_for(session),
        session_id=session.pk,
        nonce=session.nonce,
        merchant_id=session.merchant_id,
    )


def test_the_vault_ingest_refuses_before_parsing_and_the_same_jwt_works_later(
    keys: KeyService, session_factory: Factory, redis_down: Callable[[bool], None]
) -> None:
    token = sealed_for(session_factory()).encode()

    def post() -> Any:
        return Client().post("/vault/v1/cards", data=token, content_type="application/jwt")

    down = post()
    redis_down(False)
    back = post()

    assert_unavailable(down)
    assert back.status_code == 201  # its jti was not spent by the refused attempt
    assert Token.objects.count() == 1 and UsedJti.objects.count() == 1


def test_the_charges_api_refuses_before_charging(
    api_client: APIClient, merchant: Merchant, redis_down: Callable[[bool], None]
) -> None:
    token = TokenFactory.create(merchant=merchant)

    response = api_client.post(
        "/api/v1/charges",
        {"token": token.pk, "amount": 1000, "currency": "EUR"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="outage-1",
    )

    assert_unavailable(response)
    assert not Charge.objects.exists()


def test_the_checkout_page_shows_a_try_again_page_and_claims_nothing(
    keys: KeyService, session_factory: Factory, redis_down: Callable[[bool], None]
) -> None:
    session = session_factory()
    form = raw_post(session)

    shown = Client().get(page_url(session))
    posted = Client().post(page_url(session), form)

    for response in (shown, posted):
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert "Please try again in a moment" in response.content.decode()
    session.refresh_from_db()
    assert (session.status, session.attempts) == (CheckoutSession.Status.OPEN, 0)
    assert not Token.objects.exists()


def test_a_signal_after_the_card_is_stored_is_logged_not_raised(
    keys: KeyService,
    session_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = counter_store()

    def batch(ops: list[Op]) -> list[int]:
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(store, "batch", batch)  # cool-off reads still answer; updates fail

    with caplog.at_level(logging.ERROR, logger="monitoring.security.engine"):
        result = card_ingest(sealed_for(session_factory()))

    assert Token.objects.filter(pk=result.token.pk).exists()
    failed = [r for r in caplog.records if r.getMessage() == "signal_record_failed"]
    assert [r.signals for r in failed] == [["card_submitted", "tokenized"]]  # type: ignore[attr-defined]
