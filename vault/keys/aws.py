"""``aws`` backend: AWS KMS through boto3 (or moto_server / LocalStack via ``AWS_ENDPOINT_URL``).

- One client per process (creating one costs ~100 ms), standard retry mode, short connect and
  read timeouts so a KMS outage turns into a quick 503 instead of a hung worker.
- Public keys (GetPublicKey) are cached in-process with their KMS key ARN; signing and ECDH
  key agreement (DeriveSharedSecret) then address the key by ARN, so the ``kid`` we stamp
  always matches the key that signed, even while an alias is being moved to a new key.
- Every botocore error is translated: authentication failures of ciphertext or context become
  ``KeyDecryptionFailed`` (fail closed, do not retry), everything else ``KeyUnavailable``
  (HTTP 503 with Retry-After). Messages never carry key material or plaintext.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings

from monitoring.observability.metrics import kms_timer

from .base import (
    DataKeyMaterial,
    KeyDecryptionFailed,
    KeyPurpose,
    KeyService,
    KeyUnavailable,
    PublicKey,
    RewrappedKey,
    UnknownKey,
)
from .jwk import der_to_raw_es256, public_jwk_from_der

if TYPE_CHECKING:
    from mypy_boto3_kms.client import KMSClient
else:
    KMSClient = Any

logger = logging.getLogger(__name__)

T = TypeVar("T")

# KMS error codes that mean "this ciphertext / context / key pairing does not authenticate".
_DECRYPT_FAILURES = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})

# What each key must be in KMS (``kms_bootstrap`` creates them so; health_check verifies).
KEY_SPECS: dict[KeyPurpose, tuple[str, str]] = {
    KeyPurpose.SIGN: ("ECC_NIST_P256", "SIGN_VERIFY"),
    KeyPurpose.JWE: ("ECC_NIST_P256", "KEY_AGREEMENT"),
    KeyPurpose.VAULT: ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
    KeyPurpose.FINGERPRINT: ("HMAC_256", "GENERATE_VERIFY_MAC"),
}
# Keys the vault does not use but the bootstrap creates alongside, by the setting naming them:
# the audit trail signs its chain heads with this one (``monitoring.audit.signing``).
OTHER_KEY_SPECS: dict[str, tuple[str, str, str]] = {
    "AUDIT_KMS_KEY_ID": ("audit", "ECC_NIST_P256", "SIGN_VERIFY"),
}


@dataclass(frozen=True)
class AwsKmsConfig:
    region: str
    endpoint_url: str | None
    key_ids: Mapping[KeyPurpose, str]
    previous_key_ids: Mapping[KeyPurpose, tuple[str, ...]] = field(default_factory=dict)
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    max_attempts: int = 3
    public_key_ttl: float = 300.0

    @classmethod
    def from_settings(cls) -> AwsKmsConfig:
        return cls(
            region=settings.KMS_REGION,
            endpoint_url=settings.AWS_ENDPOINT_URL or None,
            key_ids={
                KeyPurpose.SIGN: settings.KMS_SIGN_KEY_ID,
                KeyPurpose.JWE: settings.KMS_JWE_KEY_ID,
                KeyPurpose.VAULT: settings.KMS_VAULT_KEY_ID,
                KeyPurpose.FINGERPRINT: settings.KMS_FINGERPRINT_KEY_ID,
            },
            previous_key_ids={
                KeyPurpose.SIGN: tuple(settings.KMS_SIGN_PREVIOUS_KEY_IDS),
                KeyPurpose.JWE: tuple(settings.KMS_JWE_PREVIOUS_KEY_IDS),
            },
            connect_timeout=settings.KMS_CONNECT_TIMEOUT,
            read_timeout=settings.KMS_READ_TIMEOUT,
            max_attempts=settings.KMS_MAX_ATTEMPTS,
            public_key_ttl=settings.KMS_PUBLIC_KEY_CACHE_SECONDS,
        )


def kms_client(config: AwsKmsConfig) -> KMSClient:
    """A KMS client with the timeouts and retry policy above. Build one per process."""
    session = boto3.session.Session()
    client: KMSClient = session.client(
        "kms",
        region_name=config.region or None,
        endpoint_url=config.endpoint_url,
        config=Config(
            retries={"mode": "standard", "max_attempts": config.max_attempts},
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
        ),
    )
    return client


@dataclass(frozen=True)
class _CachedKey:
    arn: str
    public: PublicKey


class AwsKmsKeyService(KeyService):
    """Keys in AWS KMS. Private and symmetric material never leaves KMS."""

    name = "aws"

    def __init__(
        self, config: AwsKmsConfig | None = None, *, client: KMSClient | None = None
    ) -> None:
        self.config = config or AwsKmsConfig.from_settings()
        self.client: KMSClient = client or kms_client(self.config)
        self._lock = threading.Lock()
        self._public: dict[str, _CachedKey] = {}
        self._current: dict[KeyPurpose, str] = {}
        self._loaded_at = 0.0

    # --- error translation --------------------------------------------------------------------

    def _call(self, operation: str, fn: Callable[[], T], *, decrypting: bool = False) -> T:
        try:
            with kms_timer(operation=operation):
                return fn()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "Unknown"))
            logger.warning("kms_error", extra={"operation": operation, "error_code": code})
            if decrypting and code in _DECRYPT_FAILURES:
                raise KeyDecryptionFailed() from error
            if code == "ThrottlingException":
                raise KeyUnavailable(retry_after=2) from error
            raise KeyUnavailable() from error
        except BotoCoreError as error:
            # Connection refused, timeouts, DNS, credentials: the service is not reachable.
            logger.warning(
                "kms_unreachable", extra={"operation": operation, "error": type(error).__name__}
            )
            raise KeyUnavailable() from error

    # --- public keys --------------------------------------------------------------------------

    def _load_public(self) -> None:
        """Fetch every current and previous SIGN/JWE public key; kids are JWK thumbprints."""
        public: dict[str, _CachedKey] = {}
        current: dict[KeyPurpose, str] = {}
        for purpose in (KeyPurpose.SIGN, KeyPurpose.JWE):
            ids = [self.config.key_ids[purpose], *self.config.previous_key_ids.get(purpose, ())]
            for index, key_id in enumerate(ids):
                response = self._call(
                    "GetPublicKey", functools.partial(self.client.get_public_key, KeyId=key_id)
                )
                jwk = public_jwk_from_der(response["PublicKey"], purpose)
                kid = str(jwk["kid"])
                public[kid] = _CachedKey(
                    arn=response["KeyId"],
                    public=PublicKey(kid=kid, purpose=purpose, jwk=jwk, current=index == 0),
                )
                if index == 0:
                    current[purpose] = kid
        with self._lock:
            self._public, self._current = public, current
            self._loaded_at = time.monotonic()

    def _public_cache(self) -> tuple[dict[str, _CachedKey], dict[KeyPurpose, str]]:
        if not self._public or time.monotonic() - self._loaded_at > self.config.public_key_ttl:
            self._load_public()
        return self._public, self._current

    def public_keys(self) -> list[PublicKey]:
        public, _ = self._public_cache()
        return [cached.public for cached in public.values()]

    # --- operations ---------------------------------------------------------------------------

    def sign_es256(self, message: bytes) -> tuple[str, bytes]:
        public, current = self._public_cache()
        kid = current[KeyPurpose.SIGN]
        digest = hashlib.sha256(message).digest()
        response = self._call(
            "Sign",
            lambda: self.client.sign(
                KeyId=public[kid].arn,
                Message=digest,
                MessageType="DIGEST",
                SigningAlgorithm="ECDSA_SHA_256",
            ),
        )
        return kid, der_to_raw_es256(response["Signature"])

    def ecdh_derive(self, *, kid: str, peer: ec.EllipticCurvePublicKey) -> bytes:
        public, _ = self._public_cache()
        cached = public.get(kid)
        if cached is None or cached.public.purpose is not KeyPurpose.JWE:
            raise UnknownKey()
        spki = peer.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        response = self._call(
            "DeriveSharedSecret",
            lambda: self.client.derive_shared_secret(
                KeyId=cached.arn, KeyAgreementAlgorithm="ECDH", PublicKey=spki
            ),
        )
        secret: bytes = response["SharedSecret"]
        if len(secret) != 32:
            raise KeyDecryptionFailed()
        return secret

    def generate_data_key(self, *, context: Mapping[str, str]) -> DataKeyMaterial:
        response = self._call(
            "GenerateDataKey",
            lambda: self.client.generate_data_key(
                KeyId=self.config.key_ids[KeyPurpose.VAULT],
                KeySpec="AES_256",
                EncryptionContext=dict(context),
            ),
        )
        return DataKeyMaterial(
            plaintext=response["Plaintext"],
            wrapped=response["CiphertextBlob"],
            key_id=response["KeyId"],
            key_version=_material_id(response, "KeyMaterialId"),
        )

    def decrypt_data_key(self, *, wrapped: bytes, key_id: str, context: Mapping[str, str]) -> bytes:
        response = self._call(
            "Decrypt",
            lambda: self.client.decrypt(
                KeyId=key_id, CiphertextBlob=wrapped, EncryptionContext=dict(context)
            ),
            decrypting=True,
        )
        plaintext: bytes = response["Plaintext"]
        if len(plaintext) != 32:
            raise KeyDecryptionFailed()
        return plaintext

    def reencrypt_data_key(
        self, *, wrapped: bytes, key_id: str, context: Mapping[str, str]
    ) -> RewrappedKey:
        response = self._call(
            "ReEncrypt",
            lambda: self.client.re_encrypt(
                CiphertextBlob=wrapped,
                SourceKeyId=key_id,
                SourceEncryptionContext=dict(context),
                DestinationKeyId=self.config.key_ids[KeyPurpose.VAULT],
                DestinationEncryptionContext=dict(context),
            ),
            decrypting=True,
        )
        return RewrappedKey(
            wrapped=response["CiphertextBlob"],
            key_id=response["KeyId"],
            key_version=_material_id(response, "DestinationKeyMaterialId"),
        )

    def mac(self, message: bytes) -> bytes:
        response = self._call(
            "GenerateMac",
            lambda: self.client.generate_mac(
                KeyId=self.config.key_ids[KeyPurpose.FINGERPRINT],
                Message=message,
                MacAlgorithm="HMAC_SHA_256",
            ),
        )
        return response["Mac"]

    def health_check(self) -> None:
        """Every configured key exists, is Enabled, and has the spec and usage we rely on."""
        for purpose, key_id in self.config.key_ids.items():
            metadata = self._call(
                "DescribeKey", functools.partial(self.client.describe_key, KeyId=key_id)
            )["KeyMetadata"]
            spec, usage = KEY_SPECS[purpose]
            if metadata.get("KeyState") != "Enabled":
                raise KeyUnavailable(f"The {purpose.value} key is not enabled.")
            if metadata.get("KeyUsage") != usage or metadata.get("KeySpec") != spec:
                raise KeyUnavailable(f"The {purpose.value} key has the wrong spec or usage.")

    # --- administration -----------------------------------------------------------------------

    def rotate_key(self, purpose: KeyPurpose) -> str:
        """On-demand rotation of the VAULT key (KMS keeps the old material for decryption).

        Asymmetric KMS keys cannot rotate: make a new key, point the alias at it and list the
        old one in ``KMS_*_PREVIOUS_KEY_IDS`` until everything made with it has expired.
        """
        if purpose is not KeyPurpose.VAULT:
            return super().rotate_key(purpose)
        key_id = self.config.key_ids[KeyPurpose.VAULT]
        self._call("RotateKeyOnDemand", lambda: self.client.rotate_key_on_demand(KeyId=key_id))
        metadata = self._call("DescribeKey", lambda: self.client.describe_key(KeyId=key_id))
        return str(metadata["KeyMetadata"].get("CurrentKeyMaterialId", ""))


def _material_id(response: Mapping[str, Any], name: str) -> str:
    """KMS names the backing key material of symmetric keys (``KeyMaterialId``); older
    endpoints and moto omit it, and then the key ARN alone identifies the version."""
    return str(response.get(name) or "")


# --- bootstrap ---------------------------------------------------------------------------------


def kms_bootstrap(*, client: KMSClient, alias_prefix: str = "alias/tessera") -> dict[str, str]:
    """Create the vault's four keys and the audit signing key, with their aliases, unless they
    exist; turn on VAULT key rotation.

    Idempotent: an alias that already exists is reused as it is. Returns the settings that
    point Tessera at them (environment variable → value).
    """
    existing: dict[str, str] = {}
    for page in client.get_paginator("list_aliases").paginate():
        for entry in page.get("Aliases", []):
            if "TargetKeyId" in entry:
                existing[entry["AliasName"]] = entry["TargetKeyId"]

    out: dict[str, str] = {}
    wanted = [
        (f"KMS_{purpose.value.upper()}_KEY_ID", purpose.value, spec, usage)
        for purpose, (spec, usage) in KEY_SPECS.items()
    ] + [(setting, *spec) for setting, spec in OTHER_KEY_SPECS.items()]
    for setting, name, spec, usage in wanted:
        alias = f"{alias_prefix}-{name}"
        key_id = existing.get(alias)
        if key_id is None:
            key = client.create_key(
                Description=f"Tessera {name} key",
                KeySpec=spec,  # type: ignore[arg-type]
                KeyUsage=usage,  # type: ignore[arg-type]
                Tags=[{"TagKey": "app", "TagValue": "tessera"}],
            )
            key_id = key["KeyMetadata"]["KeyId"]
            client.create_alias(AliasName=alias, TargetKeyId=key_id)
        if name == KeyPurpose.VAULT.value:
            client.enable_key_rotation(KeyId=key_id)
        out[setting] = alias
    return out
