"""Key service: every operation on key material goes through one interface.

Backends (``aws``, ``local``) live in their own modules and are chosen by ``settings.KEYS_BACKEND``;
``get_key_service()`` resolves the configured one once per process.
"""

from .base import (
    CertificateRefused,
    DataKeyMaterial,
    KeyDecryptionFailed,
    KeyPurpose,
    KeyService,
    KeyServiceError,
    KeyUnavailable,
    PublicKey,
    RewrappedKey,
    UnknownKey,
    get_key_service,
)

__all__ = [
    "CertificateRefused",
    "DataKeyMaterial",
    "KeyDecryptionFailed",
    "KeyPurpose",
    "KeyService",
    "KeyServiceError",
    "KeyUnavailable",
    "PublicKey",
    "RewrappedKey",
    "UnknownKey",
    "get_key_service",
]
