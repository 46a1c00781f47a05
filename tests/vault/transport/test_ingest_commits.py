"""One commit per ingested card, counted: the jti, the ciphertext and the token together. A
card refused after its jti was recorded still spends the jti (one commit), and every refusal
adds the commit of its audit event."""

from __future__ import annotations

from typing import Any

import pytest

from checkout.sessions.transport import card_encrypt, card_seal
from tests.support.commits import count_commits
from tests.vault.test_mode_cards import real_number
from vault.cards import CardValidationError
from vault.models import EncryptedCard, Merchant, Token, UsedJti
from vault.transport.ingest import CardTokenReplayed, IngestRefused, card_ingest

pytestmark = pytest.mark.django_db(transaction=True)


def _sealed(keys: Any, merchant: Merchant, card: dict[str, Any], session: str) -> str:
    card_jwe = card_encrypt(card, session_id=session, nonce="n", keys=keys)
    return card_seal(card_jwe, session_id=session, nonce="n", merchant_id=merchant.id, keys=keys)


def test_an_ingested_card_is_one_commit(
    keys: Any, merchant: Merchant, card: dict[str, Any]
) -> None:
    card_ingest(_sealed(keys, merchant, card, "cs_warm"), keys=keys)  # makes the data key

    counts = []
    for index in range(5):
        sealed = _sealed(keys, merchant, card, f"cs_{index}")
        with count_commits() as commits:
            card_ingest(sealed, keys=keys)
        counts.append((commits.explicit, commits.autocommit_writes))

    assert counts == [(1, [])] * 5
    assert Token.objects.count() == EncryptedCard.objects.count() == UsedJti.objects.count() == 6


def test_a_refused_card_spends_its_jti_in_one_commit(
    keys: Any, merchant: Merchant, card: dict[str, Any]
) -> None:
    bad = _sealed(keys, merchant, {**card, "number": "4242424242424241"}, "cs_bad")

    with count_commits() as commits, pytest.raises(CardValidationError):
        card_ingest(bad, keys=keys)

    assert commits.total == 2  # the jti, then the refusal's audit event
    assert UsedJti.objects.count() == 1 and Token.objects.count() == 0
    assert EncryptedCard.objects.count() == 0
    with pytest.raises(CardTokenReplayed):
        card_ingest(bad, keys=keys)


def test_a_card_refused_for_the_merchants_mode_spends_its_jti_and_stores_nothing(
    keys: Any, merchant: Merchant, card: dict[str, Any]
) -> None:
    real = _sealed(keys, merchant, {**card, "number": real_number()}, "cs_real")

    with count_commits() as commits, pytest.raises(CardValidationError) as refused:
        card_ingest(real, keys=keys)  # a real card in test mode

    assert refused.value.errors[0].code == "test_mode_live_card"
    assert commits.total == 2  # the jti, then the refusal's audit event
    assert UsedJti.objects.count() == 1 and Token.objects.count() == 0
    assert EncryptedCard.objects.count() == 0
    with pytest.raises(CardTokenReplayed):
        card_ingest(real, keys=keys)


def test_a_foreign_jwe_spends_its_jti_and_stores_nothing(
    keys: Any, merchant: Merchant, card: dict[str, Any]
) -> None:
    other = card_encrypt(card, session_id="cs_other", nonce="n", keys=keys)
    sealed = card_seal(other, session_id="cs_mine", nonce="n", merchant_id=merchant.id, keys=keys)

    with count_commits() as commits, pytest.raises(IngestRefused, match="not encrypted for"):
        card_ingest(sealed, keys=keys)

    assert commits.total == 2  # the jti, then the refusal's audit event
    assert UsedJti.objects.count() == 1 and Token.objects.count() == 0


def test_a_replay_commits_only_its_audit_event(
    keys: Any, merchant: Merchant, card: dict[str, Any]
) -> None:
    sealed = _sealed(keys, merchant, card, "cs_once")
    card_ingest(sealed, keys=keys)

    with count_commits() as commits, pytest.raises(CardTokenReplayed):
        card_ingest(sealed, keys=keys)

    assert commits.total == 1
    assert Token.objects.count() == 1 and UsedJti.objects.count() == 1
