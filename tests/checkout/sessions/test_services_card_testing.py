"""The hosted page and the charges API wired into monitoring: each card attempt is
counted once, under the shopper's address and session; a cooling-off source gets the friendly
429 with Retry-After, and nobody else does. Over Django's test client; the same run against
real gunicorn is in ``tests/monitoring/test_card_testing_e2e.py``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from checkout.payments.models import Charge
from checkout.sessions import views
from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import checkout_session_complete
from monitoring.security.cooloff import SourceCoolingOff
from monitoring.security.engine import signal_record, stats_last_hours
from monitoring.security.models import SecurityAlert
from monitoring.security.rules import Signal, api_client_source
from tests.checkout.sessions.conftest import DECLINED, LUHN_WRONG, VISA, jwe_for
from tests.checkout.sessions.html import by_id, parse
from tests.checkout.sessions.test_views import page_url, raw_post
from tests.factories import TokenFactory
from vault.keys import KeyService
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db

Factory = Callable[..., CheckoutSession]
ATTACKER = "203.0.113.66"
SHOPPER = "198.51.100.23"


def counted() -> dict[str, Any]:
    """Every signal counted in the last two hours (an hour boundary may fall mid-test)."""
    totals: dict[str, Any] = {}
    for hour in stats_last_hours(hours=2):
        for kind, n in hour.counts.items():
            if n:
                totals[kind] = totals.get(kind, 0) + n
        for kind, reasons in hour.reasons.items():
            for reason, n in reasons.items():
                key = f"{kind}:{reason}"
                totals[key] = totals.get(key, 0) + n
    return totals


def _nojs(client: Client, session: CheckoutSession, number: str, **extra: Any) -> Any:
    return client.post(page_url(session), raw_post(session, number), **extra)


def _js(client: Client, session: CheckoutSession, number: str, **extra: Any) -> Any:
    card_jwe = jwe_for(session, number)
    return client.post(
        page_url(session), {"nonce": session.nonce, "card_jwe": card_jwe, "name": "Ada"}, **extra
    )


@pytest.mark.parametrize(
    ("post", "number", "mode", "status", "expected"),
    [
        pytest.param(_nojs, LUHN_WRONG, "payment", 422,
                     {"card_invalid": 1, "card_invalid:incorrect_number": 1}, id="nojs-invalid"),
        pytest.param(_js, LUHN_WRONG, "payment", 422,
                     {"card_invalid": 1, "card_invalid:incorrect_number": 1}, id="js-invalid"),
        pytest.param(_nojs, DECLINED, "payment", 402,
                     {"card_submitted": 1, "tokenized": 1, "charge_declined": 1,
                      "charge_declined:card_declined": 1}, id="nojs-declined"),
        pytest.param(_js, DECLINED, "payment", 402,
                     {"card_submitted": 1, "tokenized": 1, "charge_declined": 1,
                      "charge_declined:card_declined": 1}, id="js-declined"),
        pytest.param(_nojs, VISA, "payment", 303,
                     {"card_submitted": 1, "tokenized": 1, "charge_succeeded": 1},
                     id="nojs-approved"),
        pytest.param(_js, VISA, "setup", 303, {"card_submitted": 1, "tokenized": 1},
                     id="js-setup"),
    ],
)  # fmt: skip
def test_each_page_attempt_is_counted_exactly_once(
    keys: KeyService,
    client: Client,
    session_factory: Factory,
    post: Callable[..., Any],
    number: str,
    mode: str,
    status: int,
    expected: dict[str, int],
) -> None:
    session = session_factory(mode=mode)

    response = post(client, session, number)

    assert response.status_code == status
    assert counted() == expected


def test_an_unreadable_post_counts_as_a_refused_card_and_a_stale_page_does_not(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory()

    garbage = client.post(page_url(session), {"nonce": session.nonce, "card_jwe": "not a jwe"})
    stale = client.post(page_url(session), raw_post(session, VISA, nonce="pn_old"))

    assert garbage.status_code == 400
    assert stale.status_code == 409
    assert counted() == {"card_invalid": 1, "card_invalid:unreadable_card": 1}


@pytest.mark.parametrize("behind_proxy", [False, True], ids=["socket", "one-trusted-proxy"])
def test_the_shoppers_address_and_session_reach_the_vault_and_the_charge(
    keys: KeyService,
    client: Client,
    session_factory: Factory,
    settings: SettingsWrapper,
    behind_proxy: bool,
) -> None:
    # given rules that fire on one card, so each alert names the source it was counted under
    settings.ANOMALY_RULES = {
        "card_testing.distinct_cards.ip": {"threshold": 1, "cooloff_seconds": 0},
        "card_testing.failures.ip": {"threshold": 1, "cooloff_seconds": 0},
    }
    if behind_proxy:
        # one proxy of ours appends the address it saw; whatever the client wrote is ignored
        settings.TRUSTED_PROXY_COUNT = 1
        extra = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": f"192.0.2.9, {ATTACKER}"}
    else:
        extra = {"REMOTE_ADDR": ATTACKER, "HTTP_X_FORWARDED_FOR": "192.0.2.9"}
    session = session_factory()

    # when a shopper's declined card goes through the page
    response = _nojs(client, session, DECLINED, **extra)

    # then the vault (from the JWT's signed cip) and the charge both counted that shopper
    assert response.status_code == 402
    alerts = {a.rule: a for a in SecurityAlert.objects.all()}
    assert set(alerts) == {"card_testing.distinct_cards.ip", "card_testing.failures.ip"}
    for alert in alerts.values():
        assert (alert.scope, alert.source) == ("ip", ATTACKER)
        assert alert.detail["related"]["session"] == session.pk
        assert alert.detail["related"]["merchant"] == session.merchant_id


def _cool_off(ip: str) -> None:
    """Any cooling rule will do: a replayed card JWT cools its sender off for an hour."""
    signal_record(Signal.JTI_REPLAYED, ip=ip)


def test_a_cooling_off_source_gets_the_friendly_429_and_other_shoppers_pay(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    # given an address cooling off after a card-testing alert
    _cool_off(ATTACKER)
    session = session_factory()
    other = session_factory()
    before = counted()

    # when it opens the page and posts a card, and another shopper does the same
    page = client.get(page_url(session), REMOTE_ADDR=ATTACKER)
    posted = _nojs(client, session, VISA, REMOTE_ADDR=ATTACKER)
    other_page = client.get(page_url(other), REMOTE_ADDR=SHOPPER)
    other_paid = _nojs(client, other, VISA, REMOTE_ADDR=SHOPPER)

    # then the source gets the checkout's own 429 page, with no form and when to return
    for response in (page, posted):
        html = response.content.decode()
        elements = parse(html)
        assert response.status_code == 429
        assert 3500 < int(response["Retry-After"]) <= 3600
        assert by_id(elements, "state-title").text == "Please wait a moment"
        assert "please wait 60 minutes before you try again" in html
        assert not [e for e in elements if e.tag == "form" or e.tag == "input"]
        assert session.merchant.name in html
    # and its post changed nothing and counted nothing
    session.refresh_from_db()
    assert (session.status, session.attempts, session.token_id) == ("open", 0, None)
    assert counted() == {
        **before,
        "card_submitted": 1,
        "tokenized": 1,
        "charge_succeeded": 1,
    }  # the other shopper's card only
    # and the other shopper was not slowed down
    assert other_page.status_code == 200
    assert other_paid.status_code == 303


def test_a_cool_off_that_starts_during_the_attempt_still_gets_the_429_page(
    keys: KeyService, client: Client, session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the page's own check passed just before the source started cooling off
    session = session_factory()
    monkeypatch.setattr(views, "cooloff_check", lambda **_: None)
    _cool_off(ATTACKER)

    # when its card arrives
    response = _nojs(client, session, VISA, REMOTE_ADDR=ATTACKER)

    # then the attempt is refused before the session is claimed, with the same friendly page
    session.refresh_from_db()
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 3500
    assert by_id(parse(response.content.decode()), "state-title").text == "Please wait a moment"
    assert (session.status, session.attempts) == ("open", 0)
    assert not Token.objects.exists()


def test_the_service_refuses_a_cooling_off_session_before_claiming_it(
    keys: KeyService, session_factory: Factory
) -> None:
    session = session_factory()
    signal_record(Signal.JTI_REPLAYED, ip=None)  # nothing to cool off without a source
    for _ in range(6):  # card_testing.failures.session: 6 refused cards in one session
        signal_record(Signal.CARD_INVALID, session_id=session.pk, reason="incorrect_number")
    nonce = session.nonce

    with pytest.raises(SourceCoolingOff) as refused:
        checkout_session_complete(
            session_id=session.pk, nonce=nonce, card_jwe=jwe_for(session), shopper_ip=SHOPPER
        )

    session.refresh_from_db()
    assert refused.value.cooloff.scope == "session"
    assert (session.nonce, session.attempts, session.status) == (nonce, 0, "open")


def _charge(client: APIClient, token: Token, ip: str) -> Any:
    return client.post(
        "/api/v1/charges",
        {"token": token.pk, "amount": 1999, "currency": "EUR"},
        format="json",
        REMOTE_ADDR=ip,
    )


def test_an_api_client_that_card_tests_cools_off_and_other_addresses_do_not(
    keys: KeyService, api_client: APIClient, merchant: Merchant, settings: SettingsWrapper
) -> None:
    # given a rule that calls three declines out of three card testing
    settings.ANOMALY_RULES = {"card_testing.declines.client": {"min_events": 3}}
    declined = [
        TokenFactory.create(merchant=merchant, number=DECLINED, exp_month=m) for m in range(1, 5)
    ]
    good = TokenFactory.create(merchant=merchant, number=VISA)

    # when one server of the merchant charges declined cards
    answers = [_charge(api_client, token, ATTACKER) for token in declined]
    session = api_client.post(
        "/api/v1/checkout/sessions",
        {"mode": "setup", "success_url": "https://shop.example/ok",
         "cancel_url": "https://shop.example/no"},
        format="json",
        REMOTE_ADDR=ATTACKER,
    )  # fmt: skip
    listing = api_client.get("/api/v1/charges", REMOTE_ADDR=ATTACKER)
    other = _charge(api_client, good, SHOPPER)

    # then the third decline raises one alert for that client, and its next writes get 429
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert [a.json()["status"] for a in answers[:3]] == ["failed"] * 3
    blocked = answers[3]
    assert blocked["Content-Type"] == "application/problem+json"
    assert blocked.json()["code"] == "too_many_attempts"
    assert 1700 < int(blocked["Retry-After"]) <= 1800
    assert session.status_code == 429
    alerts = list(SecurityAlert.objects.filter(scope="client"))
    assert [(a.rule, a.source) for a in alerts] == [
        (
            "card_testing.declines.client",
            api_client_source(merchant_id=merchant.pk, ip=ATTACKER),
        )
    ]
    assert not SecurityAlert.objects.filter(scope="ip").exists()  # a server is not a shopper
    assert Charge.objects.filter(token=declined[3]).count() == 0
    # and it still reads what it has, and the merchant's other address is untouched
    assert listing.status_code == 200
    assert other.status_code == 201 and other.json()["status"] == "succeeded"


def test_no_card_digits_leak_into_the_cooloff_page(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    _cool_off(ATTACKER)
    session = session_factory()
    posted = raw_post(session, VISA)

    response = client.post(page_url(session), posted, REMOTE_ADDR=ATTACKER)

    html = response.content.decode()
    assert response.status_code == 429
    for secret in (VISA, posted["number"], posted["cvc"]):
        assert not re.search(rf"(?<![0-9]){re.escape(secret)}(?![0-9])", html)


def test_the_card_that_trips_a_rule_is_never_authorised(
    keys: KeyService, client: Client, session_factory: Factory, settings: SettingsWrapper
) -> None:
    # given a rule that fires on the first card an address submits
    settings.ANOMALY_RULES = {"card_testing.distinct_cards.ip": {"threshold": 1}}
    session = session_factory()

    # when that address's card reaches the vault
    response = _nojs(client, session, VISA, REMOTE_ADDR=ATTACKER)

    # then the card is tokenized (and counted) but revoked unused: no charge, no answer
    session.refresh_from_db()
    token = Token.objects.get()
    assert response.status_code == 429
    assert by_id(parse(response.content.decode()), "state-title").text == "Please wait a moment"
    assert not Charge.objects.exists()
    assert token.status == Token.Status.REVOKED
    assert (session.status, session.attempts, session.token_id) == ("open", 1, None)
    assert session.last_failure_code == "too_many_attempts"
    assert SecurityAlert.objects.get().source == ATTACKER
