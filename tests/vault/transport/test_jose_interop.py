"""Interop with an independent JOSE implementation (panva/jose on Node.js) and with the hosted
page's own JavaScript, run unchanged in Node."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from checkout.sessions.transport import card_encrypt, card_seal, current_key
from payments_site.kernel.encoding import b64url_decode, b64url_encode
from tests.cards import load_cards
from tests.support.node import ensure_node_packages, run_node
from tests.support.servers import gunicorn
from tests.vault.transport.conftest import BOTH_MODES
from vault.cards import CardValidationError, brand_rules_export, card_validate
from vault.keys import KeyPurpose, KeyService
from vault.keys.local import LocalKeyService
from vault.models import Merchant, WorkingKey
from vault.transport.ingest import card_ingest

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(scope="module", autouse=True)
def node_packages() -> None:
    ensure_node_packages()


def _last_part_tampered(compact: str) -> str:
    """``compact`` with one bit of its last part (a tag or a signature) flipped: reversing
    characters leaves a palindrome as it was."""
    head, _, last = compact.rpartition(".")
    raw = bytearray(b64url_decode(last))
    raw[0] ^= 1
    return f"{head}.{b64url_encode(bytes(raw))}"


def published_enc_jwk() -> dict[str, Any]:
    keys = Client().get("/.well-known/jwks.json").json()["keys"]
    return next(k for k in keys if k["use"] == "enc")


def current_enc_jwk(keys_mode: str) -> dict[str, Any]:
    """The published encryption key the page uses: in working mode, a working key of the
    vault's store (the KMS key stays listed before it)."""
    published = Client().get("/.well-known/jwks.json").json()["keys"]
    working = set(
        WorkingKey.objects.filter(use=WorkingKey.Use.CARD_JWE).values_list("kid", flat=True)
    )
    enc = [
        k
        for k in published
        if k["use"] == "enc" and (k["kid"] in working) == (keys_mode == "working")
    ]
    assert enc, "no such encryption key published"
    return enc[-1]


@BOTH_MODES
def test_card_encrypted_by_panva_jose_is_accepted(
    keys: KeyService, keys_mode: str, merchant: Merchant, card: dict[str, Any]
) -> None:
    payload = {**card, "sid": "cs_interop", "nonce": "n-1"}
    jwk = current_enc_jwk(keys_mode)
    card_jwe = run_node("encrypt_card.mjs", {"jwk": jwk, "card": payload}).stdout
    sealed = card_seal(
        card_jwe, session_id="cs_interop", nonce="n-1", merchant_id=merchant.id, keys=keys
    )

    result = card_ingest(sealed, keys=keys)

    assert result.token.last4 == card["number"][-4:]
    assert result.token.brand == "visa"


@BOTH_MODES
def test_card_encrypted_by_the_page_module_is_accepted(
    keys: KeyService, keys_mode: str, merchant: Merchant, card: dict[str, Any]
) -> None:
    payload = {**card, "sid": "cs_page", "nonce": "n-2"}
    jwk = current_enc_jwk(keys_mode)
    card_jwe = run_node("page_module.mjs", {"op": "encrypt", "jwk": jwk, "payload": payload}).stdout
    sealed = card_seal(
        card_jwe, session_id="cs_page", nonce="n-2", merchant_id=merchant.id, keys=keys
    )

    assert card_ingest(sealed, keys=keys).token.last4 == card["number"][-4:]


def _private_enc_jwk(keys: KeyService) -> dict[str, Any]:
    """The local keyring's JWE private key as a JWK, for panva/jose to decrypt with."""
    assert isinstance(keys, LocalKeyService)
    public = current_key(KeyPurpose.JWE, keys)
    private = keys._keys().by_kid[public.kid].private
    d = private.private_numbers().private_value.to_bytes(32, "big")
    return {k: public.jwk[k] for k in ("kty", "crv", "x", "y")} | {"d": b64url_encode(d)}


@pytest.mark.parametrize("maker", ["card_encrypt", "page_module"])
def test_panva_jose_decrypts_the_jwe_tessera_makes(
    keys: KeyService, card: dict[str, Any], maker: str
) -> None:
    payload = {**card, "sid": "cs_out", "nonce": "n-3"}
    if maker == "card_encrypt":
        card_jwe = card_encrypt(card, session_id="cs_out", nonce="n-3", keys=keys)
    else:
        card_jwe = run_node(
            "page_module.mjs", {"op": "encrypt", "jwk": published_enc_jwk(), "payload": payload}
        ).stdout
    jwk = _private_enc_jwk(keys)

    opened = run_node("decrypt_card.mjs", {"jwk": jwk, "jwe": card_jwe}, check=False)
    tampered = run_node(
        "decrypt_card.mjs", {"jwk": jwk, "jwe": _last_part_tampered(card_jwe)}, check=False
    )

    assert opened.returncode == 0, opened.stderr
    result = json.loads(opened.stdout)
    assert result["payload"] == {k: payload[k] for k in result["payload"]}
    assert result["payload"]["number"] == card["number"]
    header = result["header"]
    assert set(header) == {"alg", "enc", "kid", "epk", "apu", "apv"}
    assert (header["alg"], header["enc"]) == ("ECDH-ES", "A256GCM")
    assert (header["apu"], header["apv"]) == (b64url_encode(b"cs_out"), b64url_encode(b"n-3"))
    assert tampered.returncode == 1


@pytest.mark.django_db(transaction=True)
def test_panva_jose_verifies_a_sealed_jwt_against_the_live_jwks(
    keys: KeyService,
    merchant: Merchant,
    card: dict[str, Any],
    tls_cert: tuple[Path, Path],
    settings: Any,
) -> None:
    card_jwe = card_encrypt(card, session_id="cs_v", nonce="n", keys=keys)
    sealed = card_seal(card_jwe, session_id="cs_v", nonce="n", merchant_id=merchant.id, keys=keys)
    env = {"LOCAL_KEYRING_PATH": str(settings.LOCAL_KEYRING_PATH)}

    with gunicorn(cert=tls_cert, env=env) as server:
        node_env = {"NODE_EXTRA_CA_CERTS": str(tls_cert[0])}
        args = (
            f"{server.url}/.well-known/jwks.json",
            "tessera-checkout",
            "vault.tessera.localhost",
        )
        good = run_node("verify_jwt.mjs", sealed, *args, env=node_env, check=False)
        forged = run_node(
            "verify_jwt.mjs", _last_part_tampered(sealed), *args, env=node_env, check=False
        )
        wrong_aud = run_node(
            "verify_jwt.mjs", sealed, args[0], args[1], "other", env=node_env, check=False
        )

    assert good.returncode == 0, good.stderr
    verified = json.loads(good.stdout)
    assert verified["header"] == {
        "alg": "ES256",
        "typ": "card+jwt",
        "kid": current_key(KeyPurpose.SIGN, keys).kid,
    }
    assert verified["payload"]["sub"] == "cs_v"
    assert forged.returncode == 1 and "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" in forged.stderr
    assert wrong_aud.returncode == 1 and "ERR_JWT_CLAIM_VALIDATION_FAILED" in wrong_aud.stderr


def _python_codes(case: dict[str, Any], today: dt.date) -> dict[str, str]:
    try:
        card_validate(today=today, **case)
    except CardValidationError as exc:
        return exc.codes
    return {}


def test_page_card_rules_agree_with_the_vault() -> None:
    """The browser's validation and the server's give the same codes, field by field."""
    today = dt.date(2026, 11, 29)
    rng = random.Random(20261129)
    cases: list[dict[str, Any]] = []
    cards = load_cards()
    for entry in cards["approve"] + cards["decline"] + cards["invalid"]:
        for cvc in ("123", "1234", "12", ""):
            cases.append(
                {"number": entry["number"], "exp_month": "12", "exp_year": "2030", "cvc": cvc}
            )
    for month, year in [
        ("11", "2026"),
        ("10", "2026"),
        ("1", "25"),
        ("13", "30"),
        ("0", "30"),
        ("12", "2046"),
        ("12", "2047"),
        ("", ""),
        ("ab", "20x"),
        ("5", "1999"),
    ]:
        cases.append(
            {"number": "4242424242424242", "exp_month": month, "exp_year": year, "cvc": "123"}
        )
    alphabet = "0123456789 -x"
    for _ in range(400):
        number = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        prefix = rng.choice(["4", "5", "2221", "34", "37", "6011", "62", "3528", "36", "50", "9"])
        cases.append(
            {
                "number": prefix + number,
                "exp_month": str(rng.randint(0, 13)),
                "exp_year": str(rng.randint(2024, 2048)),
                "cvc": "1" * rng.randint(0, 5),
            }
        )

    result = run_node(
        "page_module.mjs",
        {
            "op": "validate",
            "rules": brand_rules_export(),
            "today": {"year": 2026, "month": 11},
            "cases": None,
            "cards": cases,
        },
    )
    browser = json.loads(result.stdout)

    mismatches = [
        (case, _python_codes(case, today), {e["field"]: e["code"] for e in got})
        for case, got in zip(cases, browser, strict=True)
        if _python_codes(case, today) != {e["field"]: e["code"] for e in got}
    ]
    assert mismatches == []
