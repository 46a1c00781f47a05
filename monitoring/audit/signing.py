"""The audit signing key: signs seal hashes so that a verifier holding only the public key can
tell a genuine chain head from one an attacker re-sealed.

ECDSA P-256 over the 32-byte seal hash (``MessageType=DIGEST``). Two backends, chosen by
``AUDIT_SIGNING_BACKEND`` (defaults to ``KEYS_BACKEND``): ``aws`` asks KMS (``Sign``,
``GetPublicKey``; the private key never leaves KMS), ``local`` keeps a key file (0600) for
development and tests. A key is named by the SHA-256 of its public key (DER SPKI), so a
verifier trusts key material, never a label stored beside the signature.

Monitoring imports nothing of the vault: this module talks to KMS itself, with the same
region, endpoint and timeout settings.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from django.conf import settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

SIGNATURE_ALGORITHM = "ECDSA_SHA_256"


class SigningUnavailable(Exception):
    """The signing key cannot be used now; the seal is written unsigned and signed later."""


def public_key_id(public_pem: str) -> str:
    """SHA-256 (hex) of the DER SubjectPublicKeyInfo: the key's name in seals and exports."""
    key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def signature_valid(public_pem: str, seal_hash: str, signature: str) -> bool:
    """Does ``signature`` (base64, DER ECDSA) sign the 32 bytes of ``seal_hash`` (hex)?"""
    try:
        key: PublicKeyTypes = serialization.load_pem_public_key(public_pem.encode("ascii"))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(
            base64.b64decode(signature, validate=True),
            bytes.fromhex(seal_hash),
            ec.ECDSA(Prehashed(hashes.SHA256())),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


class HeadSigner(ABC):
    """Signs seal hashes with the audit key."""

    @property
    @abstractmethod
    def public_pem(self) -> str:
        """The public key, PEM (SubjectPublicKeyInfo)."""

    @abstractmethod
    def _sign(self, digest: bytes) -> bytes:
        """DER ECDSA signature over the 32-byte ``digest`` (pre-hashed)."""

    @functools.cached_property
    def key_id(self) -> str:
        return public_key_id(self.public_pem)

    def sign(self, seal_hash: str) -> str:
        """Base64 DER signature over the seal hash (hex)."""
        return base64.b64encode(self._sign(bytes.fromhex(seal_hash))).decode("ascii")


class LocalHeadSigner(HeadSigner):
    """A P-256 key in a PEM file created on first use (mode 0600). Development and tests."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._key: ec.EllipticCurvePrivateKey | None = None

    def _private(self) -> ec.EllipticCurvePrivateKey:
        with self._lock:
            if self._key is None:
                self._key = self._load_or_create()
            return self._key

    def _load_or_create(self) -> ec.EllipticCurvePrivateKey:
        if not self.path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first: use theirs
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
        loaded = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise SigningUnavailable(f"{self.path} does not hold an EC private key")
        return loaded

    @property
    def public_pem(self) -> str:
        return (
            self._private()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def _sign(self, digest: bytes) -> bytes:
        return self._private().sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))


class KmsHeadSigner(HeadSigner):
    """An ``ECC_NIST_P256`` / ``SIGN_VERIFY`` KMS key: one ``Sign`` per signed seal."""

    def __init__(self, key_id: str, client: Any) -> None:
        self.kms_key_id = key_id
        self.client = client

    @functools.cached_property
    def public_pem(self) -> str:
        try:
            response = self.client.get_public_key(KeyId=self.kms_key_id)
        except Exception as exc:  # botocore's errors: endpoint, throttling, disabled key
            raise SigningUnavailable(f"GetPublicKey failed: {type(exc).__name__}") from None
        key = serialization.load_der_public_key(response["PublicKey"])
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def _sign(self, digest: bytes) -> bytes:
        try:
            response = self.client.sign(
                KeyId=self.kms_key_id,
                Message=digest,
                MessageType="DIGEST",
                SigningAlgorithm=SIGNATURE_ALGORITHM,
            )
        except Exception as exc:  # botocore's errors: endpoint, throttling, disabled key
            raise SigningUnavailable(f"KMS Sign failed: {type(exc).__name__}") from None
        return bytes(response["Signature"])


def _kms_client() -> Any:
    return boto3.session.Session().client(
        "kms",
        region_name=settings.KMS_REGION or None,
        endpoint_url=settings.AWS_ENDPOINT_URL or None,
        config=Config(
            retries={"mode": "standard", "max_attempts": settings.KMS_MAX_ATTEMPTS},
            connect_timeout=settings.KMS_CONNECT_TIMEOUT,
            read_timeout=settings.KMS_READ_TIMEOUT,
        ),
    )


@functools.cache
def head_signer() -> HeadSigner:
    """The configured signer, one per process (a boto3 client costs ~100 ms to build)."""
    if settings.AUDIT_SIGNING_BACKEND == "aws":
        return KmsHeadSigner(settings.AUDIT_KMS_KEY_ID, _kms_client())
    return LocalHeadSigner(settings.AUDIT_SIGNING_KEY_PATH)
