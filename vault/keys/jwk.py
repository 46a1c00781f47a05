"""Public-key plumbing shared by the backends: JWKs, RFC 7638 thumbprints, ECDSA DER → R‖S.

Kept apart from the backends because the checkout (signing) and the JWT verifier use the very
same conversions, and a bug in any of them breaks interop silently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

from payments_site.kernel.encoding import b64url_encode

from .base import KeyPurpose, KeyServiceError

ES256_COORDINATE_BYTES = 32

# RFC 7638 §3.2: the thumbprint covers only the required members, in lexicographic order.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


b64url = b64url_encode


def _int_bytes(value: int, length: int | None = None) -> bytes:
    length = length or max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(length, "big")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url: the stable ``kid`` of a public key."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None:
        raise ValueError("unsupported key type for a thumbprint")
    canonical = json.dumps(
        {name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True
    )
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def public_jwk(
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, purpose: KeyPurpose
) -> dict[str, Any]:
    """The JWK we publish for ``public_key``, ``kid`` included.

    Both are P-256: SIGN keys ``use: sig`` (ES256), JWE keys ``use: enc`` (ECDH-ES key agreement).
    """
    if purpose not in (KeyPurpose.SIGN, KeyPurpose.JWE):
        raise ValueError(f"{purpose} keys have no public half")
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise KeyServiceError(f"The {purpose.value} key is not a P-256 key.")
    numbers = public_key.public_numbers()
    jwk: dict[str, Any] = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(_int_bytes(numbers.x, ES256_COORDINATE_BYTES)),
        "y": b64url(_int_bytes(numbers.y, ES256_COORDINATE_BYTES)),
    }
    if purpose is KeyPurpose.SIGN:
        jwk.update(use="sig", alg="ES256")
    else:
        jwk.update(use="enc", alg="ECDH-ES")
    jwk["kid"] = jwk_thumbprint(jwk)
    return jwk


def public_jwk_from_der(der: bytes, purpose: KeyPurpose) -> dict[str, Any]:
    """JWK from a DER SubjectPublicKeyInfo, the form KMS GetPublicKey returns."""
    key = load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise KeyServiceError("Unexpected public key type from the key service.")
    return public_jwk(key, purpose)


def der_to_raw_es256(der_signature: bytes) -> bytes:
    """ASN.1 DER ECDSA signature → the fixed-width R‖S (2 × 32 bytes) that JWS requires.

    DER drops leading zero bytes of R and S and may add one to keep them positive, so a
    signature is 70–72 bytes with occasional shorter ones; each integer is left-padded back to
    exactly 32 bytes here (RFC 7518 §3.4). Anything that is not a P-256 sized pair is refused.
    """
    try:
        r, s = decode_dss_signature(der_signature)
    except ValueError as error:
        raise KeyServiceError("The key service returned a malformed signature.") from error
    limit = 1 << (8 * ES256_COORDINATE_BYTES)
    if not (0 < r < limit and 0 < s < limit):
        raise KeyServiceError("The key service returned a malformed signature.")
    return _int_bytes(r, ES256_COORDINATE_BYTES) + _int_bytes(s, ES256_COORDINATE_BYTES)
