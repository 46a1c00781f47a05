"""Strict compact JOSE primitives: only the shapes Tessera itself produces are accepted.

We parse by hand rather than through a general JOSE library on purpose. A general library
accepts every algorithm, header and serialisation the specs allow; each of those is attack
surface (``alg: none``, embedded ``jwk``, ``zip`` bombs, PBES2 with a huge ``p2c``, RSA1_5
padding oracles). Here one shape is allowed and everything else is refused before any key is
touched. The JWS signature itself is verified by pyjwt (see ``ingest.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from payments_site.kernel.encoding import b64url_decode as kernel_b64url_decode
from payments_site.kernel.jsontext import JsonRefused, json_object_parse
from vault.keys import KeyDecryptionFailed, KeyService

JWE_ALG = "RSA-OAEP-256"
JWE_ENC = "A256GCM"
JWE_HEADER_KEYS = frozenset({"alg", "enc", "kid"})
MAX_CARD_PLAINTEXT = 4096
MAX_JOSE_JSON = 8 * 1024  # no header, claim set or card of ours comes near it
_KID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


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


@dataclass(frozen=True)
class JweParts:
    protected_b64: str
    header: Mapping[str, Any]
    encrypted_key: bytes
    iv: bytes
    ciphertext: bytes
    tag: bytes


def jwe_parse(compact: object, *, allowed_kids: frozenset[str]) -> JweParts:
    """Split and check a compact JWE: header exactly ``{alg: RSA-OAEP-256, enc: A256GCM, kid}``."""
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
    if set(header) != JWE_HEADER_KEYS:
        # Covers zip (decompression bombs), crit, jku/jwk/x5u, epk, p2s/p2c and any extension.
        raise JoseError("unsupported_card_encryption", "Unsupported JWE header parameters.")
    if header["alg"] != JWE_ALG or header["enc"] != JWE_ENC:
        raise JoseError(
            "unsupported_card_encryption", "Only RSA-OAEP-256 with A256GCM is accepted."
        )
    try:
        kid = valid_kid(header["kid"])
    except JoseError as exc:
        raise JoseError("unknown_encryption_key", "Unknown encryption key.") from exc
    if kid not in allowed_kids:
        raise JoseError("unknown_encryption_key", "Unknown encryption key.")
    if len(iv) != 12 or len(tag) != 16 or not 0 < len(encrypted_key) <= 512:
        raise JoseError("malformed_card_encryption", "The card JWE is malformed.")
    if len(ciphertext) > MAX_CARD_PLAINTEXT:
        raise JoseError("card_too_large", "The encrypted card is too large.")
    return JweParts(parts[0], header, encrypted_key, iv, ciphertext, tag)


def jwe_decrypt(parts: JweParts, *, keys: KeyService) -> bytes:
    """Unwrap the CEK through the key service (KMS Decrypt), then AES-256-GCM.

    Every failure gives the same reason: distinguishing a bad CEK from a bad tag would hand
    an attacker a padding oracle.
    """
    failure = JoseError("card_decryption_failed", "The card could not be decrypted.")
    try:
        cek = keys.rsa_oaep_decrypt(kid=str(parts.header["kid"]), ciphertext=parts.encrypted_key)
    except KeyDecryptionFailed as exc:
        raise failure from exc
    if len(cek) != 32:
        raise failure
    try:
        plaintext = AESGCM(cek).decrypt(
            parts.iv, parts.ciphertext + parts.tag, parts.protected_b64.encode("ascii")
        )
    except InvalidTag as exc:
        raise failure from exc
    if len(plaintext) > MAX_CARD_PLAINTEXT:
        raise JoseError("card_too_large", "The encrypted card is too large.")
    return plaintext
