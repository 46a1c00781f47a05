"""Card transport, checkout side: encrypt a card to the vault's key and seal it in a JWT.

The browser makes the JWE itself (``static/checkout/``); ``card_encrypt`` makes exactly the
same JWE on the server, for callers without a browser and for the no-JavaScript form.
``card_seal`` wraps a JWE in an ES256 JWT signed through the key service (KMS Sign in strict
mode, a KMS-certified working key in working mode), so the vault can tell the card came
through this checkout and for which session.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from payments_site.kernel.encoding import b64url_decode, b64url_encode
from vault.keys import KeyPurpose, KeyService, PublicKey, get_key_service
from vault.transport.ingest import JWT_TYPE, MAX_LIFETIME_SECONDS
from vault.transport.jose import CEK_BITS, JWE_ALG, JWE_ENC, concat_kdf


def current_key(purpose: KeyPurpose, keys: KeyService | None = None) -> PublicKey:
    keys = keys or get_key_service()
    return next(k for k in keys.public_keys() if k.purpose == purpose and k.current)


def card_encrypt(
    card: Mapping[str, Any], *, session_id: str, nonce: str, keys: KeyService | None = None
) -> str:
    """Compact JWE (ECDH-ES + A256GCM) of the card fields plus session id and page nonce, the
    same bytes-for-shape as the page's ``jwe.js``: a fresh ephemeral P-256 key per card, the
    session id and nonce as ``apu``/``apv`` of the key derivation."""
    public = current_key(KeyPurpose.JWE, keys)
    payload = {
        **{k: card[k] for k in ("number", "exp_month", "exp_year", "cvc", "name") if k in card},
        "sid": session_id,
        "nonce": nonce,
    }
    vault_key = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64url_decode(public.jwk["x"]), "big"),
        int.from_bytes(b64url_decode(public.jwk["y"]), "big"),
        ec.SECP256R1(),
    ).public_key()
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    numbers = ephemeral.public_key().public_numbers()
    apu, apv = session_id.encode("utf-8"), nonce.encode("utf-8")
    header = {
        "alg": JWE_ALG,
        "enc": JWE_ENC,
        "kid": public.kid,
        "epk": {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        },
        "apu": b64url_encode(apu),
        "apv": b64url_encode(apv),
    }
    cek = concat_kdf(
        ephemeral.exchange(ec.ECDH(), vault_key), enc=JWE_ENC, apu=apu, apv=apv, bits=CEK_BITS
    )
    protected = b64url_encode(json.dumps(header, separators=(",", ":")).encode("ascii"))
    iv = secrets.token_bytes(12)
    sealed = AESGCM(cek).encrypt(
        iv, json.dumps(payload, separators=(",", ":")).encode("utf-8"), protected.encode("ascii")
    )
    return ".".join(
        (protected, "", b64url_encode(iv), b64url_encode(sealed[:-16]), b64url_encode(sealed[-16:]))
    )


def card_seal(
    card_jwe: str,
    *,
    session_id: str,
    nonce: str,
    merchant_id: str,
    livemode: bool = False,
    lifetime: int | None = None,
    client_ip: str | None = None,
    keys: KeyService | None = None,
) -> str:
    """A compact ES256 JWS, ``typ: card+jwt``, around ``card_jwe`` (RFC 8725 explicit typing).

    ``client_ip`` (the shopper's address as the checkout saw it) travels signed as ``cip``, so
    the vault's card-testing rules count shoppers even when it runs as its own deployment.
    ``livemode`` (the checkout session's mode) travels signed too: the vault makes the token in
    that mode and applies that mode's card rules.
    """
    keys = keys or get_key_service()
    lifetime = int(lifetime or settings.CARD_JWT_LIFETIME_SECONDS)
    if not 0 < lifetime <= MAX_LIFETIME_SECONDS:
        raise ValueError(f"card JWT lifetime must be 1..{MAX_LIFETIME_SECONDS} s")
    now = int(time.time())
    kid = keys.card_signing_kid()
    header = {"alg": "ES256", "typ": JWT_TYPE, "kid": kid}
    claims = {
        "iss": settings.CARD_JWT_ISSUER,
        "aud": settings.CARD_JWT_AUDIENCE,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(24),
        "sub": session_id,
        "nonce": nonce,
        "mer": merchant_id,
        "livemode": bool(livemode),
        "card": card_jwe,
    }
    if client_ip:
        claims["cip"] = client_ip
    signing_input = ".".join(
        b64url_encode(json.dumps(part, separators=(",", ":")).encode("utf-8"))
        for part in (header, claims)
    )
    signed_kid, signature = keys.card_sign(signing_input.encode("ascii"))
    if signed_kid != kid:
        # The key rotated between reading the kid and signing: the header would lie.
        raise RuntimeError("signing key changed while sealing; retry")
    return f"{signing_input}.{b64url_encode(signature)}"
