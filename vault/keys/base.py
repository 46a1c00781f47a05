"""The ``KeyService`` interface (ARCHITECTURE.md §2).

Four keys per environment:

- ``SIGN`` (ECC_NIST_P256): the checkout signs card JWTs with ES256.
- ``JWE`` (ECC_NIST_P256, key agreement): browsers make an ECDH-ES JWE to its public half; the
  vault derives the shared secret with KMS DeriveSharedSecret.
- ``VAULT`` (symmetric, rotating): wraps data keys, always under an encryption context.
- ``FINGERPRINT`` (HMAC_256): per-merchant card fingerprints.

Private and symmetric key material never leaves the backend; callers get signatures, MACs,
ECDH shared secrets and data keys (plaintext only in memory, for the envelope cache).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.utils.module_loading import import_string

from payments_site.kernel.encoding import b64url_decode
from payments_site.kernel.errors import DomainError


class KeyPurpose(StrEnum):
    SIGN = "sign"
    JWE = "jwe"
    VAULT = "vault"
    FINGERPRINT = "fingerprint"


@dataclass(frozen=True)
class PublicKey:
    """A public key as published in the JWKS.

    ``kid`` is stable for the life of the key (the RFC 7638 thumbprint of its JWK), so a JWT or
    JWE made with it can always be matched back; ``current`` is False for a previous key that
    is still listed because things made with it may not have expired yet.
    """

    kid: str
    purpose: KeyPurpose
    jwk: Mapping[str, Any]
    current: bool = True


@dataclass(frozen=True)
class DataKeyMaterial:
    """A fresh AES-256 data key: ``plaintext`` stays in memory, ``wrapped`` goes to the DB."""

    plaintext: bytes = field(repr=False)
    wrapped: bytes
    key_id: str
    key_version: str


@dataclass(frozen=True)
class RewrappedKey:
    wrapped: bytes
    key_id: str
    key_version: str


class KeyServiceError(DomainError):
    """Base of key-service failures. Never carries key material or plaintext."""

    code = "key_service_unavailable"


class KeyUnavailable(KeyServiceError):
    """The key (or the KMS endpoint) cannot be used right now: retry later, nothing was written."""

    def __init__(self, message: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(
            message or "The key service is temporarily unavailable. Try again shortly.",
            retry_after=retry_after,
        )


class KeyDecryptionFailed(KeyServiceError):
    """Ciphertext, wrapped key or context did not authenticate: fail closed, do not retry."""

    code = "decryption_failed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "The data could not be decrypted.")


class CertificateRefused(KeyServiceError):
    """A working signing key whose certificate does not hold (forged, expired, for another use
    or environment): the token it signed is refused with ``code`` as the reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class UnknownKey(KeyDecryptionFailed):
    """A ``kid`` (or key id) that names no current or still-valid previous key."""

    code = "unknown_key"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "The key named by the request is not known.")


class KeyService(ABC):
    """One interface, two real backends (``aws`` and ``local``)."""

    name: str

    @abstractmethod
    def sign_es256(self, message: bytes) -> tuple[str, bytes]:
        """Sign ``message`` with the current SIGN key: returns ``(kid, R‖S)`` (64 bytes)."""

    @abstractmethod
    def public_keys(self) -> list[PublicKey]:
        """Current and still-valid previous public keys for SIGN and JWE."""

    @abstractmethod
    def ecdh_derive(self, *, kid: str, peer: ec.EllipticCurvePublicKey) -> bytes:
        """The raw ECDH shared secret (the 32-byte x coordinate) of the JWE key named ``kid``
        (current or previous) with ``peer``, a P-256 point the caller has already validated."""

    @abstractmethod
    def generate_data_key(self, *, context: Mapping[str, str]) -> DataKeyMaterial:
        """A new AES-256 key wrapped under the current VAULT key, bound to ``context``."""

    @abstractmethod
    def decrypt_data_key(self, *, wrapped: bytes, key_id: str, context: Mapping[str, str]) -> bytes:
        """Unwrap a data key; a different ``context`` fails with ``KeyDecryptionFailed``."""

    @abstractmethod
    def reencrypt_data_key(
        self, *, wrapped: bytes, key_id: str, context: Mapping[str, str]
    ) -> RewrappedKey:
        """Re-wrap under the current VAULT key version without exposing the plaintext."""

    @abstractmethod
    def mac(self, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` with the FINGERPRINT key (32 bytes)."""

    @abstractmethod
    def health_check(self) -> None:
        """Raise ``KeyUnavailable`` unless every key can be used."""

    # --- card transport: the keys a checkout seals with (strict: KMS; see working.py) -------

    mode = "strict"

    def card_signing_kid(self) -> str:
        """The ``kid`` the next ``card_sign`` signs with."""
        return next(k.kid for k in self.public_keys() if k.purpose == KeyPurpose.SIGN and k.current)

    def card_sign(self, message: bytes) -> tuple[str, bytes]:
        """Sign a card JWT: ``(kid, R‖S)``. Strict mode signs in KMS."""
        return self.sign_es256(message)

    def card_verify_key(self, kid: str) -> ec.EllipticCurvePublicKey:
        """The key that verifies a card JWT signed under ``kid``; ``UnknownKey`` otherwise."""
        match = next(
            (k for k in self.public_keys() if k.kid == kid and k.purpose == KeyPurpose.SIGN), None
        )
        if match is None:
            raise UnknownKey()
        return public_key_from_jwk(match.jwk)

    # --- administration: not on any request path ----------------------------------------------

    def rotate_key(self, purpose: KeyPurpose) -> str:
        """Make a new version of ``purpose``'s key current; returns its version label.

        Data keys wrapped under the previous VAULT version keep opening until they are
        re-wrapped (``manage.py rewrap_data_keys``) and that version is retired.
        """
        raise NotImplementedError(f"{self.name} cannot rotate {purpose.value} keys here")

    def retire_vault_key_version(self, *, key_id: str, key_version: str) -> bool:
        """Destroy an old VAULT key version once nothing depends on it; False if the backend
        keeps old versions itself (KMS keeps rotated key material for the key's lifetime)."""
        return False

    def public_key(self, kid: str) -> PublicKey:
        """The SIGN or JWE public key named ``kid``; ``UnknownKey`` if it is not listed."""
        for key in self.public_keys():
            if key.kid == kid:
                return key
        raise UnknownKey()


def public_key_from_jwk(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of one of our own JWKs (never one taken from a token)."""
    return ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64url_decode(str(jwk["x"])), "big"),
        int.from_bytes(b64url_decode(str(jwk["y"])), "big"),
        ec.SECP256R1(),
    ).public_key()


@functools.cache
def get_key_service() -> KeyService:
    """The configured backend in the configured mode, built once per process (boto3 clients
    cost ~100 ms each; working keys are unwrapped once per process)."""
    backend: KeyService = import_string(settings.KEYS_BACKEND)()
    if settings.KEYS_MODE == "working":
        wrapped: KeyService = import_string(settings.KEYS_WORKING_SERVICE)(backend)
        return wrapped
    return backend
