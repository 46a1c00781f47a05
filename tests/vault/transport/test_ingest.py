"""The card path end to end: encrypt → seal → ingest → token, in-process and over HTTP."""

from __future__ import annotations

import io
import json
import sys
import time
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from checkout.sessions.transport import card_encrypt, card_seal, current_key
from payments_site.kernel.encoding import b64url_encode
from tests.cards import load_cards
from tests.vault.transport.conftest import BOTH_BACKENDS
from tests.vault.transport.jose_tools import decode_part
from vault.keys import KeyPurpose
from vault.models import Merchant, Token
from vault.transport.ingest import card_ingest

pytestmark = pytest.mark.django_db


def seal(keys: Any, merchant: Merchant, card: dict[str, Any], session: str = "cs_1") -> str:
    card_jwe = card_encrypt(card, session_id=session, nonce="n1", keys=keys)
    return card_seal(card_jwe, session_id=session, nonce="n1", merchant_id=merchant.id, keys=keys)


@pytest.mark.parametrize("test_card", load_cards()["approve"], ids=lambda c: c["number"][-4:])
def test_every_test_card_becomes_a_token(
    keys: Any, merchant: Merchant, card: dict[str, Any], test_card: dict[str, Any]
) -> None:
    cvc = "1234" if test_card["brand"] == "amex" else "123"
    given = {**card, "number": test_card["number"], "cvc": cvc}

    result = card_ingest(seal(keys, merchant, given), keys=keys)

    assert result.token.last4 == test_card["number"][-4:]
    assert result.token.brand == test_card["brand"]
    assert result.token.merchant_id == merchant.id
    assert result.session_id == "cs_1"
    assert result.cvc == cvc  # in memory only, for the first authorization
    assert cvc not in repr(result)


def test_sealed_jwt_has_the_documented_shape(
    keys: Any, merchant: Merchant, card: dict[str, Any]
) -> None:
    token = seal(keys, merchant, card)

    header, claims = decode_part(token, 0), decode_part(token, 1)
    assert header == {
        "alg": "ES256",
        "typ": "card+jwt",
        "kid": current_key(KeyPurpose.SIGN, keys).kid,
    }
    assert set(claims) == {"iss", "aud", "iat", "exp", "jti", "sub", "nonce", "mer", "card"}
    assert claims["iss"] == "tessera-checkout"
    assert claims["aud"] == "vault.tessera.localhost"
    assert claims["exp"] - claims["iat"] == 120
    assert abs(claims["iat"] - time.time()) < 5
    assert claims["sub"] == "cs_1" and claims["mer"] == merchant.id
    jwe_header = json.loads(
        __import__("base64").urlsafe_b64decode(claims["card"].split(".")[0] + "==")
    )
    assert set(jwe_header) == {"alg", "enc", "kid", "epk", "apu", "apv"}
    assert jwe_header["alg"] == "ECDH-ES" and jwe_header["enc"] == "A256GCM"
    assert jwe_header["kid"] == current_key(KeyPurpose.JWE, keys).kid
    assert set(jwe_header["epk"]) == {"kty", "crv", "x", "y"}
    assert (jwe_header["epk"]["kty"], jwe_header["epk"]["crv"]) == ("EC", "P-256")
    assert (jwe_header["apu"], jwe_header["apv"]) == (b64url_encode(b"cs_1"), b64url_encode(b"n1"))
    assert claims["card"].split(".")[1] == ""  # direct key agreement: no encrypted key


def test_lifetime_above_300_seconds_cannot_be_sealed(keys: Any, merchant: Merchant) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        card_seal(
            "x.y.z.a.b",
            session_id="cs",
            nonce="n",
            merchant_id=merchant.id,
            lifetime=301,
            keys=keys,
        )


def test_many_signatures_all_verify(keys: Any, merchant: Merchant, card: dict[str, Any]) -> None:
    """About 1 in 128 ECDSA signatures has an r or s with a leading zero byte; 300 seals make
    hitting that case all but certain (the key-service tests pin it deterministically)."""
    jwe_token = card_encrypt(card, session_id="cs_1", nonce="n1", keys=keys)
    import jwt

    public = jwt.PyJWK(dict(current_key(KeyPurpose.SIGN, keys).jwk), algorithm="ES256").key
    for _ in range(300):
        token = card_seal(
            jwe_token, session_id="cs_1", nonce="n1", merchant_id=merchant.id, keys=keys
        )
        jwt.decode(token, key=public, algorithms=["ES256"], audience="vault.tessera.localhost")


@BOTH_BACKENDS
def test_http_ingest_returns_the_token_metadata(
    keys: Any, merchant: Merchant, card: dict[str, Any]
) -> None:
    response = Client().post(
        "/vault/v1/cards", data=seal(keys, merchant, card), content_type="application/jwt"
    )

    assert response.status_code == 201
    body = response.json()
    token = Token.objects.get(pk=body["token"])
    assert body == {
        "token": token.id,
        "brand": "visa",
        "last4": "4242",
        "exp_month": card["exp_month"],
        "exp_year": card["exp_year"],
        "fingerprint": token.fingerprint,
    }
    assert response["Cache-Control"] == "no-store"
    assert card["number"] not in response.content.decode()


@BOTH_BACKENDS
def test_jwks_publishes_signing_and_encryption_keys(keys: Any) -> None:
    response = Client().get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert "max-age=300" in response["Cache-Control"]
    published = {k["kid"]: k for k in response.json()["keys"]}
    sign, enc = current_key(KeyPurpose.SIGN, keys), current_key(KeyPurpose.JWE, keys)
    assert published[sign.kid]["use"] == "sig" and published[sign.kid]["alg"] == "ES256"
    assert published[sign.kid]["kty"] == "EC" and published[sign.kid]["crv"] == "P-256"
    assert published[enc.kid]["use"] == "enc" and published[enc.kid]["alg"] == "ECDH-ES"
    assert published[enc.kid]["kty"] == "EC" and published[enc.kid]["crv"] == "P-256"
    for jwk in published.values():
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(jwk)


def test_seal_card_command_output_is_accepted(
    keys: Any, merchant: Merchant, card: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(card)))
    out = io.StringIO()

    call_command("seal_card", "--merchant", merchant.id, stdout=out)

    response = Client().post(
        "/vault/v1/cards", data=out.getvalue().strip(), content_type="application/jwt"
    )
    assert response.status_code == 201
    assert response.json()["last4"] == card["number"][-4:]


def test_seal_card_refuses_an_unknown_merchant(
    monkeypatch: pytest.MonkeyPatch, card: dict[str, Any]
) -> None:
    from django.core.management import CommandError

    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(card)))

    with pytest.raises(CommandError, match="No active merchant"):
        call_command("seal_card", "--merchant", "mer_nope")


def test_purge_used_jtis_keeps_rows_until_expiry_plus_leeway() -> None:
    import datetime as dt

    from django.utils import timezone

    from vault.models import UsedJti

    now = timezone.now()
    UsedJti.objects.create(jti="old", expires_at=now - dt.timedelta(seconds=120))
    UsedJti.objects.create(jti="leeway", expires_at=now - dt.timedelta(seconds=10))
    UsedJti.objects.create(jti="live", expires_at=now + dt.timedelta(seconds=60))
    out = io.StringIO()

    call_command("purge_used_jtis", stdout=out)

    assert sorted(UsedJti.objects.values_list("jti", flat=True)) == ["leeway", "live"]
    assert out.getvalue().strip() == "purged 1 used card-JWT ids"
