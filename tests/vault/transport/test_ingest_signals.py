"""The ingest feeds the anomaly rules and metrics: replays and bursts of bad JWTs cool the
sender off, card testing through one shopper or session cools that shopper off, and other
shoppers are untouched."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from checkout.sessions.transport import card_encrypt, card_seal
from monitoring.observability.metrics import INGEST_SECONDS, TOKENIZATIONS
from monitoring.security.cooloff import SourceCoolingOff
from monitoring.security.models import SecurityAlert
from tests.cards import load_cards
from vault.keys import KeyService
from vault.models import Merchant, Token
from vault.transport.ingest import card_ingest

pytestmark = pytest.mark.django_db


def sealed(
    keys: KeyService,
    merchant: Merchant,
    card: dict[str, Any],
    *,
    session: str,
    ip: str | None = "203.0.113.7",
) -> str:
    card_jwe = card_encrypt(card, session_id=session, nonce="n", keys=keys)
    return card_seal(
        card_jwe, session_id=session, nonce="n", merchant_id=merchant.id, client_ip=ip, keys=keys
    )


def post(token: str, ip: str = "198.51.100.1") -> Any:
    return Client(REMOTE_ADDR=ip).post(
        "/vault/v1/cards", data=token.encode(), content_type="application/jwt"
    )


def test_a_replay_raises_one_alert_and_cools_the_sender_off(
    keys: KeyService, merchant: Merchant, card: dict[str, Any]
) -> None:
    token = sealed(keys, merchant, card, session="cs_r")
    assert post(token).status_code == 201

    replay = post(token)
    after = post(sealed(keys, merchant, card, session="cs_r2"))
    elsewhere = post(sealed(keys, merchant, card, session="cs_r3"), ip="198.51.100.99")

    assert replay.status_code == 409
    assert list(SecurityAlert.objects.values_list("rule", "scope", "source")) == [
        ("jwt.replay", "ip", "198.51.100.1")
    ]
    assert after.status_code == 429
    assert after.json()["code"] == "too_many_attempts"
    assert int(after["Retry-After"]) > 0
    assert elsewhere.status_code == 201


def test_a_burst_of_bad_jwts_cools_the_sender_off(
    keys: KeyService, merchant: Merchant, card: dict[str, Any]
) -> None:
    good = sealed(keys, merchant, card, session="cs_b")
    head, body, sig = good.split(".")
    forged = f"{head}.{body}.{sig[:-2]}{'A' if sig[-2] != 'A' else 'B'}{sig[-1]}"

    answers = [post(forged).status_code for _ in range(25)]

    assert answers[:19] == [401] * 19
    assert 429 in answers
    assert post(good).status_code == 429
    assert SecurityAlert.objects.filter(rule="jwt.rejections.ip").count() == 1


def test_card_testing_through_one_shopper_is_stopped_and_others_are_not(
    keys: KeyService, merchant: Merchant, card: dict[str, Any]
) -> None:
    numbers = [c["number"] for c in load_cards()["approve"] if c["brand"] != "amex"]
    outcomes = []
    for i, number in enumerate(numbers):
        token = sealed(
            keys, merchant, {**card, "number": number}, session=f"cs_t{i}", ip="203.0.113.66"
        )
        try:
            card_ingest(token, keys=keys)
            outcomes.append("token")
        except SourceCoolingOff:
            outcomes.append("429")

    other = card_ingest(
        sealed(keys, merchant, card, session="cs_other", ip="203.0.113.5"), keys=keys
    )

    # the eighth distinct card trips the rule: its token is shredded unused, not handed out
    assert outcomes[:7] == ["token"] * 7
    assert set(outcomes[7:]) == {"429"}
    alerts = list(SecurityAlert.objects.values_list("rule", "source"))
    assert alerts == [("card_testing.distinct_cards.ip", "203.0.113.66")]
    assert other.token.last4 == card["number"][-4:]
    assert Token.objects.count() == 9
    assert Token.objects.filter(status=Token.Status.REVOKED).count() == 1


def test_invalid_cards_count_as_failures_of_the_session(
    keys: KeyService, merchant: Merchant, card: dict[str, Any]
) -> None:
    bad = {**card, "number": "4242424242424241"}
    codes = []
    for i in range(8):
        token = sealed(keys, merchant, bad, session="cs_same", ip=f"203.0.113.{10 + i}")
        codes.append(post(token, ip=f"198.51.100.{10 + i}").status_code)

    assert codes[:6] == [422] * 6
    assert codes[6:] == [429, 429]
    assert (
        SecurityAlert.objects.filter(rule="card_testing.failures.session", source="cs_same").count()
        == 1
    )


def test_ingest_counts_tokenizations_and_times_itself(
    keys: KeyService, merchant: Merchant, card: dict[str, Any]
) -> None:
    before = TOKENIZATIONS._value.get()
    observed = sum(b.get() for b in INGEST_SECONDS._buckets)

    assert post(sealed(keys, merchant, card, session="cs_m")).status_code == 201

    assert TOKENIZATIONS._value.get() == before + 1
    assert sum(b.get() for b in INGEST_SECONDS._buckets) == observed + 1
