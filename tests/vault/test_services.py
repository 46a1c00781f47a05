"""Tokens end to end on every key backend: round trips, fail-closed decryption, revocation,
fingerprints, expiry, rotation and the data-key cache."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from pytest_django.fixtures import Settings

from monitoring.audit.models import AuditEvent
from payments_site.kernel.encoding import b64url_encode
from payments_site.problems import problem_of
from tests.cards import load_cards
from tests.checkout.events import failing_listener, heard
from tests.factories import MerchantFactory
from tests.vault.conftest import AWS_BACKENDS
from vault import events as vault_events
from vault.cards import Card, card_validate
from vault.envelope import data_keys
from vault.fingerprints import FINGERPRINT_VERSION, card_fingerprint, fingerprint_v1, subkey_message
from vault.keys import KeyDecryptionFailed, KeyPurpose, KeyService, KeyUnavailable
from vault.keys.aws import AwsKmsKeyService
from vault.keys.local import LocalKeyService
from vault.models import DataKey, EncryptedCard, Merchant, Token, VaultKeyVersion
from vault.services import (
    KeyVersionInUse,
    RevealedCard,
    TokenExpired,
    TokenRevoked,
    data_keys_rewrap,
    token_create,
    token_reveal,
    token_revoke,
    vault_key_rotate,
    vault_key_version_retire,
)

CARDS = load_cards()
ACTOR = "test"
pytestmark = pytest.mark.django_db


def _card(number: str = "4242424242424242", exp_month: int = 12, exp_year: int = 2030) -> Card:
    cvc = "1234" if number.startswith(("34", "37")) else "123"
    return card_validate(
        number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc, name="Jo Doe"
    )


def _reveal(token: Token) -> RevealedCard:
    return token_reveal(token=token, purpose="charge:test", actor=ACTOR)


def count_kms_calls(service: KeyService) -> Counter[str]:
    """KMS operations made through ``service`` from now on (boto3 events on the aws backend;
    the local backend's methods are wrapped to count the same way)."""
    calls: Counter[str] = Counter()
    if isinstance(service, AwsKmsKeyService):
        service.client.meta.events.register(
            "before-call.kms", lambda model, **_: calls.update([model.name])
        )
        return calls
    names = {
        "generate_data_key": "GenerateDataKey",
        "decrypt_data_key": "Decrypt",
        "reencrypt_data_key": "ReEncrypt",
        "mac": "GenerateMac",
    }
    for method, name in names.items():
        original = getattr(service, method)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kw: Any) -> Any:
            calls.update([_name])
            return _original(*args, **kw)

        setattr(service, method, counted)
    return calls


# --- round trips --------------------------------------------------------------------------------


def test_every_test_card_round_trips(key_service: KeyService, merchant: Merchant) -> None:
    for entry in CARDS["approve"] + CARDS["decline"]:
        # given a validated card (CVC included)
        card = _card(entry["number"])

        # when it becomes a token and the token is revealed
        token = token_create(merchant=merchant, card=card, actor=ACTOR)
        revealed = _reveal(token)

        # then the token holds masked metadata only, and the reveal gives the card back
        assert token.id.startswith("tok_") and len(token.id) >= 4 + 22
        assert (token.brand, token.last4) == (card.brand, entry["number"][-4:])
        assert (revealed.number, revealed.exp_month, revealed.exp_year, revealed.name) == (
            entry["number"],
            12,
            2030,
            "Jo Doe",
        )
        assert not hasattr(revealed, "cvc")
        assert entry["number"] not in repr(revealed)


def test_reveal_is_audited_and_marks_the_token_used(
    key_service: KeyService, merchant: Merchant
) -> None:
    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)

    token_reveal(token=token, purpose="charge:ch_123", actor="processor:sandbox")

    event = AuditEvent.objects.get(action="token.reveal")
    assert (event.actor, event.object_id, event.outcome) == (
        "processor:sandbox",
        token.id,
        "success",
    )
    assert event.data["purpose"] == "charge:ch_123"
    token.refresh_from_db()
    assert token.last_used_at is not None


# --- fail closed --------------------------------------------------------------------------------


def test_tampered_ciphertext_fails_closed(key_service: KeyService, merchant: Merchant) -> None:
    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    row = EncryptedCard.objects.get(token=token)
    tampered = bytearray(bytes(row.ciphertext))
    tampered[3] ^= 0x01
    EncryptedCard.objects.filter(pk=row.pk).update(ciphertext=bytes(tampered))

    with pytest.raises(KeyDecryptionFailed):
        _reveal(token)


def test_tampered_nonce_fails_closed(key_service: KeyService, merchant: Merchant) -> None:
    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    EncryptedCard.objects.filter(token=token).update(nonce=b"\x00" * 12)

    with pytest.raises(KeyDecryptionFailed):
        _reveal(token)


def test_ciphertext_moved_to_another_token_fails_closed(
    key_service: KeyService, merchant: Merchant
) -> None:
    # given two tokens of one merchant sealed under the same data key
    victim = token_create(merchant=merchant, card=_card("5555555555554444"), actor=ACTOR)
    attacker = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    source = EncryptedCard.objects.get(token=victim)

    # when the victim's ciphertext is copied into the attacker's row (the AAD would differ)
    EncryptedCard.objects.filter(token=attacker).update(
        nonce=bytes(source.nonce), ciphertext=bytes(source.ciphertext), data_key=source.data_key
    )

    # then it does not decrypt as the attacker's token
    with pytest.raises(KeyDecryptionFailed):
        _reveal(attacker)
    assert _reveal(victim).number == "5555555555554444"


def test_ciphertext_moved_to_another_merchant_fails_closed(
    key_service: KeyService, merchant: Merchant
) -> None:
    other = MerchantFactory.create(name="Other")
    mine = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    theirs = token_create(merchant=other, card=_card(), actor=ACTOR)
    # same token id, other merchant: re-point the other merchant's token at my ciphertext
    source = EncryptedCard.objects.get(token=mine)
    EncryptedCard.objects.filter(token=theirs).update(
        nonce=bytes(source.nonce), ciphertext=bytes(source.ciphertext)
    )

    with pytest.raises(KeyDecryptionFailed):
        _reveal(theirs)


def test_wrapped_data_key_under_another_context_fails_closed(
    key_service: KeyService, merchant: Merchant
) -> None:
    # given two data keys (one card each)
    first = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    data_keys.clear()
    second = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    first_key = EncryptedCard.objects.get(token=first).data_key
    second_key = EncryptedCard.objects.get(token=second).data_key
    assert first_key.pk != second_key.pk

    # when the first key's wrapped blob is copied onto the second key's row (its KMS
    # encryption context names the first row)
    DataKey.objects.filter(pk=second_key.pk).update(wrapped=bytes(first_key.wrapped))
    data_keys.clear()

    # then unwrapping fails closed
    with pytest.raises(KeyDecryptionFailed):
        _reveal(second)


@AWS_BACKENDS
def test_disabled_vault_key_refuses_create_and_reveal_writing_nothing(
    key_service: KeyService, disable_key: Callable[[KeyPurpose], None], merchant: Merchant
) -> None:
    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    counts = (Token.objects.count(), EncryptedCard.objects.count(), DataKey.objects.count())
    data_keys.clear()

    disable_key(KeyPurpose.VAULT)

    with pytest.raises(KeyUnavailable) as raised:
        token_create(merchant=merchant, card=_card(), actor=ACTOR)
    assert (problem_of(raised.value).status, raised.value.retry_after) == (503, 5)
    with pytest.raises(KeyUnavailable):
        _reveal(token)
    assert (Token.objects.count(), EncryptedCard.objects.count(), DataKey.objects.count()) == counts
    failures = AuditEvent.objects.filter(action="key.failure").order_by("id")
    assert [(e.outcome, e.data["operation"]) for e in failures] == [
        ("failure", "token_create"),
        ("failure", "token_reveal"),
    ]


@AWS_BACKENDS
def test_disabled_fingerprint_key_refuses_create(
    key_service: KeyService, disable_key: Callable[[KeyPurpose], None], merchant: Merchant
) -> None:
    disable_key(KeyPurpose.FINGERPRINT)

    with pytest.raises(KeyUnavailable):
        token_create(merchant=merchant, card=_card(), actor=ACTOR)
    assert Token.objects.count() == 0


# --- revocation -------------------------------------------------------------------------------


def test_revoked_token_is_shredded_and_never_revealed(
    key_service: KeyService, merchant: Merchant
) -> None:
    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    card_row = token.card_data_id

    revoked = token_revoke(token=token, actor="admin:ops", reason="customer asked")

    assert not EncryptedCard.objects.filter(pk=card_row or 0).exists()
    stored = Token.objects.get(pk=token.pk)
    assert (stored.status, stored.card_data_id, stored.last4) == ("revoked", None, "4242")
    assert (stored.revoked_by, stored.revoked_reason) == ("admin:ops", "customer asked")
    assert revoked.revoked_at is not None
    with pytest.raises(TokenRevoked):
        _reveal(token)
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "outcome"))
    assert actions[-2:] == [("token.revoke", "success"), ("token.reveal", "denied")]


def _loaded_with_card(token: Token) -> Token:
    return Token.objects.select_related("card_data__data_key").get(pk=token.pk)


def test_a_token_loaded_with_its_card_is_revealed_without_reading_it_again(
    key_service: KeyService, merchant: Merchant
) -> None:
    token = _loaded_with_card(token_create(merchant=merchant, card=_card(), actor=ACTOR))

    with CaptureQueriesContext(connection) as captured:
        revealed = _reveal(token)

    assert revealed.number == "4242424242424242"
    sql = [q["sql"] for q in captured.captured_queries]
    assert not any(s.startswith("SELECT") and '"vault_token"' in s for s in sql), sql
    assert Token.objects.get(pk=token.pk).last_used_at == token.last_used_at is not None


def test_a_revocation_committed_after_the_token_was_loaded_refuses_the_reveal(
    key_service: KeyService, merchant: Merchant
) -> None:
    # given a token loaded with its card, then revoked through another instance
    created = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    loaded = _loaded_with_card(created)
    token_revoke(token=created, actor="admin:ops", reason="customer asked")

    # when the stale instance is revealed, then it is refused as revoked, audited, unused
    with pytest.raises(TokenRevoked):
        _reveal(loaded)
    last = AuditEvent.objects.order_by("-id").first()
    assert last is not None
    assert (last.action, last.outcome, last.reason) == ("token.reveal", "denied", "token_revoked")
    assert Token.objects.get(pk=created.pk).last_used_at is None
    assert loaded.last_used_at is None


def test_revoke_is_idempotent(key_service: KeyService, merchant: Merchant) -> None:
    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    token_revoke(token=token, actor=ACTOR, reason="first")

    again = token_revoke(token=token, actor=ACTOR, reason="second")

    assert again.revoked_reason == "first"
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


@pytest.mark.parametrize("backend_name", ["local"])
def test_revocation_is_announced_once_committed(
    key_service: KeyService,
    merchant: Merchant,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)

    with (
        heard(vault_events.TokenRevoked) as events,
        django_capture_on_commit_callbacks(execute=True),
    ):
        token_revoke(token=token, actor=ACTOR, reason="fraud")

    assert events == [
        vault_events.TokenRevoked(token_id=token.id, merchant_id=merchant.id, reason="fraud")
    ]


@pytest.mark.parametrize("backend_name", ["local"])
def test_a_revocation_that_rolls_back_is_never_announced(
    key_service: KeyService,
    merchant: Merchant,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)

    def revoke_then_fail() -> None:
        with transaction.atomic():
            token_revoke(token=token, actor=ACTOR, reason="fraud")
            raise RuntimeError("the caller's transaction fails")

    with (
        heard(vault_events.TokenRevoked) as events,
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
    ):
        revoke_then_fail()

    assert events == []
    token.refresh_from_db()
    assert (token.status, token.card_data_id is not None) == ("active", True)
    assert _reveal(token).number == "4242424242424242"


@pytest.mark.parametrize("backend_name", ["local"])
def test_a_failing_listener_cannot_undo_a_revocation(
    key_service: KeyService,
    merchant: Merchant,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)

    with (
        failing_listener(vault_events.TokenRevoked),
        django_capture_on_commit_callbacks(execute=True),
    ):
        revoked = token_revoke(token=token, actor=ACTOR, reason="fraud")

    token.refresh_from_db()
    assert (revoked.status, token.status, token.card_data_id) == ("revoked", "revoked", None)


@pytest.mark.parametrize("backend_name", ["local"])
@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
def test_revoke_needs_a_reason(key_service: KeyService, merchant: Merchant, reason: str) -> None:
    from vault.services import InvalidReason

    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)

    with pytest.raises(InvalidReason):
        token_revoke(token=token, actor=ACTOR, reason=reason)
    assert Token.objects.get(pk=token.pk).status == "active"


# --- fingerprints and de-duplication ----------------------------------------------------------


def test_fingerprint_is_per_merchant_and_deduplicates(
    key_service: KeyService, merchant: Merchant
) -> None:
    other = MerchantFactory.create(name="Other")

    a = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    b = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    c = token_create(merchant=other, card=_card(), actor=ACTOR)
    d = token_create(merchant=merchant, card=_card("5555555555554444"), actor=ACTOR)
    same = token_create(merchant=merchant, card=_card(), deduplicate=True, actor=ACTOR)
    new_expiry = token_create(
        merchant=merchant, card=_card(exp_year=2031), deduplicate=True, actor=ACTOR
    )

    assert a.id != b.id
    assert a.fingerprint == b.fingerprint == same.fingerprint
    assert len(a.fingerprint) == 43
    assert c.fingerprint != a.fingerprint
    assert d.fingerprint != a.fingerprint
    assert same.id == a.id
    assert new_expiry.id not in {a.id, b.id}
    token_revoke(token=a, actor=ACTOR, reason="x")
    assert token_create(merchant=merchant, card=_card(), deduplicate=True, actor=ACTOR).id == b.id


def test_fingerprint_is_hmac_of_the_pan_under_the_kms_derived_subkey(
    key_service: KeyService, merchant: Merchant
) -> None:
    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)

    subkey = key_service.mac(subkey_message(merchant_id=merchant.id, livemode=False))
    expected = hmac.new(subkey, b"4242424242424242", hashlib.sha256).digest()
    assert token.fingerprint == b64url_encode(expected)
    assert token.fingerprint_version == FINGERPRINT_VERSION == 2
    # the mode is an input of the subkey: live and test fingerprints never match
    live = card_fingerprint(merchant_id=merchant.id, number="4242424242424242", livemode=True)
    assert live != token.fingerprint


def test_version_1_fingerprints_keep_deduplicating_and_are_rekeyed(
    key_service: KeyService, merchant: Merchant
) -> None:
    # given tokens made before subkeys (version 1: one KMS MAC over merchant + PAN)
    old = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    revoked = token_create(merchant=merchant, card=_card("5555555555554444"), actor=ACTOR)
    for token in (old, revoked):
        v1 = fingerprint_v1(merchant_id=merchant.id, number=_reveal(token).number)
        Token.objects.filter(pk=token.pk).update(fingerprint=v1, fingerprint_version=1)
    token_revoke(token=revoked, actor=ACTOR, reason="x")

    # then a de-duplicating create still finds the version 1 token
    assert token_create(merchant=merchant, card=_card(), deduplicate=True, actor=ACTOR).id == old.id

    # when the command re-keys them
    out = io.StringIO()
    call_command("rekey_fingerprints", stdout=out)

    # then the live token is on version 2 and still matches; the revoked one has no card left
    old.refresh_from_db()
    assert "Re-keyed 1 fingerprints." in out.getvalue()
    assert old.fingerprint_version == 2
    assert old.fingerprint == card_fingerprint(
        merchant_id=merchant.id, number="4242424242424242", livemode=False
    )
    assert Token.objects.get(pk=revoked.pk).fingerprint_version == 1
    calls = count_kms_calls(key_service)
    assert token_create(merchant=merchant, card=_card(), deduplicate=True, actor=ACTOR).id == old.id
    assert calls["GenerateMac"] == 0  # no version 1 token left to compare: no KMS call


# --- expiry -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend_name", ["local"])
def test_expired_tokens_are_refused_and_purged(key_service: KeyService, merchant: Merchant) -> None:
    now = timezone.now()
    live = token_create(merchant=merchant, card=_card(), actor=ACTOR)
    lapsed = token_create(
        merchant=merchant, card=_card(exp_month=now.month, exp_year=now.year), actor=ACTOR
    )
    Token.objects.filter(pk=lapsed.pk).update(expires_at=now - dt.timedelta(seconds=1))

    with pytest.raises(TokenExpired):
        _reveal(lapsed)

    call_command("purge_expired_tokens")

    lapsed.refresh_from_db()
    assert (lapsed.status, lapsed.revoked_reason, lapsed.card_data_id) == (
        "revoked",
        "card_expired",
        None,
    )
    assert Token.objects.get(pk=live.pk).status == "active"


def test_token_expiry_is_the_end_of_the_card_month(
    key_service: KeyService, merchant: Merchant
) -> None:
    token = token_create(merchant=merchant, card=_card(exp_month=2, exp_year=2028), actor=ACTOR)

    assert token.expires_at == dt.datetime(2028, 3, 1, tzinfo=dt.UTC)


# --- data keys: caching and rotation ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_mac_per_merchant_with_cached_data_keys(
    key_service: KeyService, merchant: Merchant, settings: Settings
) -> None:
    settings.DATA_KEY_MAX_USES = 25
    calls = count_kms_calls(key_service)

    tokens = [token_create(merchant=merchant, card=_card(), actor=ACTOR) for _ in range(60)]

    # one MAC for the merchant's fingerprint subkey; a new data key after every 25 cards
    assert calls == Counter({"GenerateMac": 1, "GenerateDataKey": 3})
    assert DataKey.objects.count() == 3
    # revealing them unwraps each data key once
    calls.clear()
    data_keys.clear()
    for token in tokens:
        _reveal(token)
    assert calls == Counter({"Decrypt": 3})


@pytest.mark.django_db(transaction=True)
def test_data_key_expires_after_its_age(
    key_service: KeyService, merchant: Merchant, settings: Settings
) -> None:
    settings.DATA_KEY_MAX_AGE_SECONDS = 0
    for _ in range(3):
        token_create(merchant=merchant, card=_card(), actor=ACTOR)

    assert DataKey.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_data_key_made_in_a_rolled_back_transaction_is_not_reused(
    key_service: KeyService, merchant: Merchant
) -> None:
    def create_then_fail() -> None:
        with transaction.atomic():
            token_create(merchant=merchant, card=_card(), actor=ACTOR)
            raise RuntimeError("caller failed")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert DataKey.objects.count() == 0

    token = token_create(merchant=merchant, card=_card(), actor=ACTOR)

    assert _reveal(token).number == "4242424242424242"


@pytest.mark.django_db(transaction=True)
def test_rewrap_calls_kms_once_per_data_key_and_keeps_cards_readable(
    key_service: KeyService, merchant: Merchant, settings: Settings
) -> None:
    # given 7 cards spread over 4 data keys
    settings.DATA_KEY_MAX_USES = 2
    tokens = [token_create(merchant=merchant, card=_card(), actor=ACTOR) for _ in range(7)]
    before = {k.pk: bytes(k.wrapped) for k in DataKey.objects.all()}
    assert len(before) == 4
    calls = count_kms_calls(key_service)
    ciphertexts = {c.pk: bytes(c.ciphertext) for c in EncryptedCard.objects.all()}

    # when every data key is re-wrapped
    run = data_keys_rewrap(actor=ACTOR, batch_size=3)

    # then KMS was called once per data key, every blob changed, no card row did
    assert calls == Counter({"ReEncrypt": 4})
    assert run.rewrapped == 4 and run.finished_at is not None
    assert all(bytes(k.wrapped) != before[k.pk] for k in DataKey.objects.all())
    assert {c.pk: bytes(c.ciphertext) for c in EncryptedCard.objects.all()} == ciphertexts
    data_keys.clear()
    assert {_reveal(t).number for t in tokens} == {"4242424242424242"}
    assert AuditEvent.objects.filter(action="key.rewrap").count() == 1


@pytest.mark.parametrize("backend_name", ["local"])
def test_rewrap_resumes_after_an_interruption(
    key_service: KeyService, merchant: Merchant, settings: Settings
) -> None:
    settings.DATA_KEY_MAX_USES = 1
    for _ in range(5):
        token_create(merchant=merchant, card=_card(), actor=ACTOR)
    calls = count_kms_calls(key_service)

    def interrupt(progress: Any) -> None:
        if progress.done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        data_keys_rewrap(actor=ACTOR, batch_size=2, progress=interrupt)
    run = data_keys_rewrap(actor=ACTOR, batch_size=2)

    assert calls["ReEncrypt"] == 5
    assert run.rewrapped == 5


@pytest.mark.parametrize("backend_name", ["local"])
def test_rotation_then_retirement_of_the_old_version(
    key_service: LocalKeyService, merchant: Merchant
) -> None:
    # given cards sealed under vault key version 1
    tokens = [token_create(merchant=merchant, card=_card(), actor=ACTOR) for _ in range(3)]

    # when the key rotates, version 1 cannot retire while data keys still use it
    assert vault_key_rotate(actor=ACTOR) == "2"
    with pytest.raises(KeyVersionInUse):
        vault_key_version_retire(key_id="local:vault", key_version="1", actor=ACTOR)

    # after a rewrap nothing depends on it: it retires, its material is destroyed
    data_keys_rewrap(actor=ACTOR)
    assert set(DataKey.objects.values_list("kms_key_version", flat=True)) == {"2"}
    retired = vault_key_version_retire(key_id="local:vault", key_version="1", actor=ACTOR)

    assert retired.retired_at is not None
    assert VaultKeyVersion.objects.get(key_version="2").retired_at is None
    data_keys.clear()
    assert [_reveal(t).number for t in tokens] == ["4242424242424242"] * 3
    with pytest.raises(KeyVersionInUse):
        vault_key_version_retire(key_id="local:vault", key_version="2", actor=ACTOR)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"key.rotate", "key.rewrap", "key.retire"} <= actions


@given(st.text(max_size=60))
def test_a_reason_is_cleaned_as_character_by_character(reason: str) -> None:
    import unicodedata

    from vault.services import InvalidReason, _clean_reason

    mapped = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in reason)
    expected = " ".join(mapped.split())
    if not expected:
        with pytest.raises(InvalidReason):
            _clean_reason(reason)
    else:
        assert _clean_reason(reason) == expected
