"""Forging tools for the attack tests: build JWS/JWE by hand, byte for byte."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from payments_site.kernel.encoding import b64url_decode, b64url_encode

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return b64url_encode(raw)


def decode_part(token: str, index: int) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[index]))


def resign_with(keys: Any, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWS with any header/claims, validly signed by the real card signing key (the KMS key
    in strict mode, the certified working key in working mode)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    _, signature = keys.card_sign(signing_input.encode())
    return f"{signing_input}.{b64url_encode(signature)}"


def sign_with_own_key(
    header: dict[str, Any], claims: dict[str, Any]
) -> tuple[str, ec.EllipticCurvePrivateKey]:
    """A JWS signed by an attacker's key (for embedded-``jwk`` style attacks)."""
    key = ec.generate_private_key(ec.SECP256R1())
    signing_input = f"{segment(header)}.{segment(claims)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}", key


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


def malleate(token: str) -> str:
    """The same ECDSA signature in its other valid form, (r, n − s)."""
    head, body, sig = token.split(".")
    raw = b64url_decode(sig)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    flipped = r.to_bytes(32, "big") + (P256_ORDER - s).to_bytes(32, "big")
    assert flipped != raw
    return f"{head}.{body}.{b64url_encode(flipped)}"


def der_from_raw(raw: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
