"""Strict compact JOSE primitives: only the shapes Tessera itself produces are accepted.

We parse by hand rather than through a general JOSE library on purpose. A general library
accepts every algorithm, header and serialisation the specs allow; each of those is attack
surface (``alg: none``, embedded ``jwk``, ``zip`` bombs, PBES2 with a huge ``p2c``, RSA1_5
padding oracles). Here one shape is allowed and everything else is refused before any key is
touched. The JWS signature itself is verified by pyjwt (see ``ingest.py``). The card JWE is
ECDH-ES (RFC 7518 §4.6) on P-256 with A256GCM; its ``epk`` is validated as a point on the
curve before the key service derives anything with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from payments_site.kernel.encoding import b64url_decode as kernel_b64url_decode
from payments_site.kernel.encoding import b64url_encode
from payments_site.kernel.jsontext import JsonRefused, json_object_parse
from vault.keys import KeyDecryptionFailed, KeyService

JWE_ALG = "ECDH-ES"
JWE_ENC = "A256GCM"
# apu / apv carry the checkout session and page nonce into the key derivation: a JWE made for
# one checkout derives another key anywhere else.
JWE_HEADER_KEYS = frozenset({"alg", "enc", "kid", "epk", "apu", "apv"})
EPK_MEMBERS = frozenset({"kty", "crv", "x", "y"})
CEK_BITS = 256
MAX_CARD_PLAINTEXT = 4096
MAX_JOSE_JSON = 8 * 1024  # no header, claim set or card of ours comes near it
MAX_PARTY_INFO = 128
_KID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

# P-256 (SEC 2 §2.4.2): field prime and curve coefficient b (a = -3).
P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
P256_COORDINATE_BYTES = 32


class JoseError(Exception):
    """A refusal with a machine reason; ``ingest`` refuses the card token with it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def b64url_decode(segment: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2): anything else is malformed."""
    try:
        return kernel_b64url_decode(segment)
    except ValueError as exc:
        raise JoseError("malformed", "Not base64url.") from exc


def strict_json_object(raw: bytes, *, max_depth: int = 4) -> dict[str, Any]:
    """A JSON object of at most ``max_depth`` levels, no repeated member (two parsers reading
    one object with a repeated key may disagree on its value: RFC 7515 §5.2)."""
    try:
        return json_object_parse(raw, max_bytes=MAX_JOSE_JSON, max_depth=max_depth)
    except JsonRefused as exc:
        raise JoseError("malformed", "Not a JSON object.") from exc


def valid_kid(value: object) -> str:
    if not isinstance(value, str) or not _KID.match(value):
        raise JoseError("unknown_kid", "Unknown key id.")
    return value


def concat_kdf(z: bytes, *, enc: str, apu: bytes, apv: bytes, bits: int) -> bytes:
    """The JWA Concat KDF (RFC 7518 §4.6.2, NIST SP 800-56A §5.8.1) for ECDH-ES direct
    agreement: AlgorithmID is ``enc``, SuppPubInfo the key length in bits."""

    def field(value: bytes) -> bytes:
        return len(value).to_bytes(4, "big") + value

    other = field(enc.encode("ascii")) + field(apu) + field(apv) + bits.to_bytes(4, "big")
    return ConcatKDFHash(hashes.SHA256(), bits // 8, otherinfo=other).derive(z)


def epk_public_key(epk: object) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from a JWE ``epk``, refused unless it is exactly a canonical affine
    point on the curve: invalid-curve and small-subgroup points never reach a private key."""
    failure = JoseError("invalid_epk", "The JWE's ephemeral key is not a valid P-256 key.")
    if not isinstance(epk, dict):
        raise failure
    if "d" in epk:
        raise JoseError("invalid_epk", "The JWE's ephemeral key must not carry a private key.")
    if set(epk) != EPK_MEMBERS or epk["kty"] != "EC" or epk["crv"] != "P-256":
        raise failure
    coordinates = []
    for name in ("x", "y"):
        value = epk[name]
        if not isinstance(value, str) or len(value) != 43:
            raise failure
        try:
            raw = b64url_decode(value)
        except JoseError as exc:
            raise failure from exc
        # 43 characters hold 258 bits: the last two must be zero for one canonical encoding.
        if len(raw) != P256_COORDINATE_BYTES or b64url_encode(raw) != value:
            raise failure
        coordinates.append(int.from_bytes(raw, "big"))
    x, y = coordinates
    if x >= P256_P or y >= P256_P or (x == 0 and y == 0):
        raise failure
    if (y * y - (x * x * x - 3 * x + P256_B)) % P256_P != 0:
        raise failure
    try:
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError as exc:
        raise failure from exc


@dataclass(frozen=True)
class JweParts:
    protected_b64: str
    header: Mapping[str, Any]
    epk: ec.EllipticCurvePublicKey
    apu: bytes
    apv: bytes
    iv: bytes
    ciphertext: bytes
    tag: bytes


def jwe_parse(compact: object, *, allowed_kids: frozenset[str]) -> JweParts:
    """Split and check a compact JWE: header exactly ``{alg: ECDH-ES, enc: A256GCM, kid, epk,
    apu, apv}``, no encrypted key, a valid ``epk``. No key is touched here."""
    if not isinstance(compact, str) or len(compact) > 8192:
        raise JoseError("malformed_card_encryption", "The card must be a compact JWE.")
    parts = compact.split(".")
    if len(parts) != 5:
        raise JoseError("malformed_card_encryption", "The card must be a compact JWE.")
    try:
        header = strict_json_object(b64url_decode(parts[0]))
        encrypted_key, iv, ciphertext, tag = (b64url_decode(p) for p in parts[1:])
    except JoseError as exc:
        raise JoseError("malformed_card_encryption", "The card JWE is malformed.") from exc
    if header.get("alg") != JWE_ALG or header.get("enc") != JWE_ENC:
        raise JoseError("unsupported_card_encryption", "Only ECDH-ES with A256GCM is accepted.")
    if set(header) != JWE_HEADER_KEYS:
        # Covers zip (decompression bombs), crit, jku/jwk/x5u, p2s/p2c and any extension.
        raise JoseError("unsupported_card_encryption", "Unsupported JWE header parameters.")
    try:
        kid = valid_kid(header["kid"])
    except JoseError as exc:
        raise JoseError("unknown_encryption_key", "Unknown encryption key.") from exc
    if kid not in allowed_kids:
        raise JoseError("unknown_encryption_key", "Unknown encryption key.")
    party: list[bytes] = []
    for name in ("apu", "apv"):
        value = header[name]
        try:
            raw = b64url_decode(value) if isinstance(value, str) else None
        except JoseError:
            raw = None
        if raw is None or not 0 < len(raw) <= MAX_PARTY_INFO:
            raise JoseError("malformed_card_encryption", f"The JWE's {name} is not valid.")
        party.append(raw)
    if encrypted_key or len(iv) != 12 or len(tag) != 16:
        # ECDH-ES direct agreement: the CEK is derived, so the encrypted key is empty.
        raise JoseError("malformed_card_encryption", "The card JWE is malformed.")
    if len(ciphertext) > MAX_CARD_PLAINTEXT:
        raise JoseError("card_too_large", "The encrypted card is too large.")
    epk = epk_public_key(header["epk"])
    return JweParts(parts[0], header, epk, party[0], party[1], iv, ciphertext, tag)


def jwe_decrypt(parts: JweParts, *, keys: KeyService) -> bytes:
    """ECDH with the vault key (KMS DeriveSharedSecret), Concat KDF, then AES-256-GCM.

    Every failure gives the same reason: telling a wrong key from a bad tag helps no one but
    an attacker.
    """
    failure = JoseError("card_decryption_failed", "The card could not be decrypted.")
    try:
        z = keys.ecdh_derive(kid=str(parts.header["kid"]), peer=parts.epk)
    except KeyDecryptionFailed as exc:
        raise failure from exc
    cek = concat_kdf(z, enc=JWE_ENC, apu=parts.apu, apv=parts.apv, bits=CEK_BITS)
    try:
        plaintext = AESGCM(cek).decrypt(
            parts.iv, parts.ciphertext + parts.tag, parts.protected_b64.encode("ascii")
        )
    except InvalidTag as exc:
        raise failure from exc
    if len(plaintext) > MAX_CARD_PLAINTEXT:
        raise JoseError("card_too_large", "The encrypted card is too large.")
    return plaintext
