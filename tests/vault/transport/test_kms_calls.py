"""KMS calls per complete checkout (seal + ingest), counted per operation on moto_server over
HTTP: strict mode is one Sign and one DeriveSharedSecret per card; working mode makes none per
card once its keys exist; fingerprint subkeys and data keys are amortised over the merchant's
cards."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from checkout.sessions.transport import card_encrypt, card_seal
from vault.keys.aws import AwsKmsKeyService
from vault.keys.working import WorkingKeyService
from vault.transport.ingest import card_ingest

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CARDS = 20
STEADY_CARDS = 1000


@pytest.mark.parametrize("keys_backend", ["moto_server"], indirect=True)
def test_strict_mode_makes_two_kms_calls_per_checkout(
    keys: Any, merchant: Any, card: dict[str, Any]
) -> None:
    assert isinstance(keys, AwsKmsKeyService)
    keys.public_keys()  # a running server has its public keys cached
    calls: Counter[str] = Counter()
    keys.client.meta.events.register(
        "before-call.kms", lambda model, **_: calls.update([model.name])
    )

    for index in range(CARDS):
        session = f"cs_kms_{index}"
        card_jwe = card_encrypt(card, session_id=session, nonce="n", keys=keys)
        sealed = card_seal(
            card_jwe, session_id=session, nonce="n", merchant_id=merchant.id, keys=keys
        )
        card_ingest(sealed, keys=keys)

    # per card: Sign (the card JWT) + DeriveSharedSecret (the JWE); once for the merchant:
    # the fingerprint subkey (GenerateMac) and the data key (GenerateDataKey)
    assert calls == Counter(
        {"Sign": CARDS, "DeriveSharedSecret": CARDS, "GenerateMac": 1, "GenerateDataKey": 1}
    )
    per_card = {op: n / CARDS for op, n in calls.items()}
    assert per_card["Sign"] + per_card["DeriveSharedSecret"] == 2


def _checkout(keys: Any, merchant: Any, card: dict[str, Any], index: int) -> None:
    session = f"cs_kms_{index}"
    card_jwe = card_encrypt(card, session_id=session, nonce="n", keys=keys)
    sealed = card_seal(card_jwe, session_id=session, nonce="n", merchant_id=merchant.id, keys=keys)
    card_ingest(sealed, keys=keys)


@pytest.mark.parametrize("keys_mode", ["working"], indirect=True)
@pytest.mark.parametrize("keys_backend", ["moto_server"], indirect=True)
def test_working_mode_makes_no_kms_call_per_checkout_in_steady_state(
    keys: Any, merchant: Any, card: dict[str, Any]
) -> None:
    assert isinstance(keys, WorkingKeyService) and isinstance(keys.inner, AwsKmsKeyService)
    # One rotation period throughout: a run that crosses a period's end rightly makes the
    # next period's keys, which is a rotation, not a call per card.
    started = time.time()
    keys.clock = lambda: started
    calls: Counter[str] = Counter()
    keys.inner.client.meta.events.register(
        "before-call.kms", lambda model, **_: calls.update([model.name])
    )

    _checkout(keys, merchant, card, 0)  # the first checkout of the period makes the keys
    first = Counter(calls)
    calls.clear()
    for index in range(1, STEADY_CARDS):
        _checkout(keys, merchant, card, index)

    # once per period: two wrapped key pairs and one certificate; once per merchant: the
    # fingerprint subkey and the data key; public keys once per process
    assert first == Counter({"GenerateDataKey": 3, "Sign": 1, "GenerateMac": 1, "GetPublicKey": 2})
    assert calls == Counter()  # steady state: nothing per card
    per_checkout = (first.total() + calls.total()) / STEADY_CARDS
    assert per_checkout <= 0.01
