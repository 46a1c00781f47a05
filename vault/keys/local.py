"""``local`` backend: the four keys in a 0600 keyring file, for ``make run`` and development.

It is real cryptography (ES256, ECDH on P-256, AES-256-GCM key wrapping with a bound context,
HMAC-SHA256), so everything above it behaves exactly as on KMS, but the key material sits on
the application's disk. Like the AWS Encryption SDK's raw keyrings it is therefore refused by
production settings unless ``LOCAL_KEYS_ALLOWED_IN_PRODUCTION`` is set on purpose.

File format (JSON): ``{"format": …, "keys": {purpose: {"current": "1", "versions": {"1":
{"created": iso, "material": base64, "retired": false}}}}}``. Several processes (gunicorn
workers, tests, management commands) share one file: creation is atomic (write, then hard-link
into place), rotation takes an ``flock`` and replaces the file, and readers reload when it
changes. A keyring whose current JWE key predates ECDH-ES (RSA) gets a P-256 version made
current on first use; the RSA one is never used again.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import stat
import struct
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from payments_site.kernel.jsontext import json_parse

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
from .jwk import der_to_raw_es256, public_jwk

FORMAT = "tessera-local-keyring/1"
VAULT_KEY_ID = "local:vault"
_WRAP_MAGIC = b"TLK1"
_NONCE = 12
_ROTATABLE = (KeyPurpose.SIGN, KeyPurpose.JWE, KeyPurpose.VAULT)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _new_material(purpose: KeyPurpose) -> bytes:
    if purpose not in (KeyPurpose.SIGN, KeyPurpose.JWE):
        return secrets.token_bytes(32)
    private = ec.generate_private_key(ec.SECP256R1())
    return private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _new_version(purpose: KeyPurpose) -> dict[str, Any]:
    return {
        "created": _now(),
        "material": base64.b64encode(_new_material(purpose)).decode("ascii"),
        "retired": False,
    }


def _context_aad(context: Mapping[str, str]) -> bytes:
    """Canonical encoding of an encryption context (order-independent, like KMS)."""
    if not context:
        raise ValueError("a data key needs an encryption context")
    body = json.dumps(dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return b"tessera/local/data-key\x00" + body.encode("ascii")


@dataclass(frozen=True)
class _Version:
    purpose: KeyPurpose
    version: str
    material: bytes
    retired: bool
    private: Any = None  # parsed private key for SIGN / JWE
    jwk: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class _Keyring:
    current: Mapping[KeyPurpose, str]
    versions: Mapping[KeyPurpose, Mapping[str, _Version]]
    by_kid: Mapping[str, _Version]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> _Keyring:
        if raw.get("format") != FORMAT:
            raise ImproperlyConfigured("The local keyring file has an unknown format.")
        current: dict[KeyPurpose, str] = {}
        versions: dict[KeyPurpose, dict[str, _Version]] = {}
        by_kid: dict[str, _Version] = {}
        for purpose in KeyPurpose:
            entry = raw["keys"][purpose.value]
            current[purpose] = str(entry["current"])
            versions[purpose] = {}
            for label, item in entry["versions"].items():
                material = base64.b64decode(item["material"])
                private = jwk = None
                retired = bool(item["retired"])
                if purpose in (KeyPurpose.SIGN, KeyPurpose.JWE):
                    private = serialization.load_der_private_key(material, password=None)
                    if isinstance(private, ec.EllipticCurvePrivateKey):
                        jwk = public_jwk(private.public_key(), purpose)
                    else:
                        retired = True  # an RSA JWE key from before ECDH-ES: never used again
                version = _Version(purpose, str(label), material, retired, private, jwk)
                versions[purpose][str(label)] = version
                if jwk is not None:
                    by_kid[str(jwk["kid"])] = version
        return cls(current, versions, by_kid)

    def current_version(self, purpose: KeyPurpose) -> _Version:
        return self.versions[purpose][self.current[purpose]]


class LocalKeyService(KeyService):
    """Keys in a local file. Development and tests only; see the module docstring."""

    name = "local"

    def __init__(self, path: Path | str | None = None) -> None:
        if not getattr(settings, "LOCAL_KEYS_ALLOWED", True):
            raise ImproperlyConfigured(
                "The local key backend keeps keys on the application's disk and is refused in "
                "production. Use KEYS_BACKEND=aws, or set LOCAL_KEYS_ALLOWED_IN_PRODUCTION=true "
                "if you really mean it."
            )
        self.path = Path(path or settings.LOCAL_KEYRING_PATH)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keyring: _Keyring | None = None

    # --- file handling ---------------------------------------------------------------------

    def _create(self) -> None:
        """Write a fresh keyring atomically; if another process won the race, keep theirs."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        raw = {
            "format": FORMAT,
            "keys": {
                p.value: {"current": "1", "versions": {"1": _new_version(p)}} for p in KeyPurpose
            },
        }
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        self._write(tmp, raw)
        try:
            os.link(tmp, self.path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def _write(path: Path, raw: Mapping[str, Any]) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(raw, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())

    def _keys(self) -> _Keyring:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._create()
            st = os.stat(self.path)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._keyring is not None and stamp == self._stamp:
                return self._keyring
            if stat.S_IMODE(st.st_mode) & 0o077:
                raise ImproperlyConfigured(
                    f"The keyring {self.path} is readable by others; chmod 600 it."
                )
            try:
                keyring = _Keyring.parse(json_parse(self.path.read_text()))
            except (OSError, ValueError, KeyError) as error:
                raise KeyUnavailable("The local keyring cannot be read.") from error
            self._keyring, self._stamp = keyring, stamp
        if keyring.current_version(KeyPurpose.JWE).retired:
            self.rotate_key(KeyPurpose.JWE)  # the RSA key of an older keyring
            return self._keys()
        return keyring

    @contextlib.contextmanager
    def _editing(self) -> Iterator[dict[str, Any]]:
        """Read-modify-replace the keyring under an exclusive lock."""
        if not self.path.exists():
            self._create()
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = json_parse(self.path.read_text())
            yield raw
            tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
            self._write(tmp, raw)
            os.replace(tmp, self.path)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # --- administration (rotation and retirement) ---------------------------------------------

    def rotate_key(self, purpose: KeyPurpose) -> str:
        if purpose not in _ROTATABLE:
            # A new fingerprint key would change every card's fingerprint and break
            # de-duplication; KMS HMAC keys cannot rotate either.
            raise ValueError(f"{purpose.value} keys are not rotated")
        with self._editing() as raw:
            entry = raw["keys"][purpose.value]
            label = str(max(int(v) for v in entry["versions"]) + 1)
            entry["versions"][label] = _new_version(purpose)
            entry["current"] = label
        return label

    def retire_vault_key_version(self, *, key_id: str, key_version: str) -> bool:
        """Delete the material of a VAULT key version; nothing wrapped under it opens again."""
        if key_id != VAULT_KEY_ID:
            return False
        with self._editing() as raw:
            entry = raw["keys"][KeyPurpose.VAULT.value]
            if key_version == entry["current"]:
                raise ValueError("the current vault key version cannot be retired")
            item = entry["versions"].get(key_version)
            if item is None:
                return False
            item["retired"] = True
            item["material"] = ""
        return True

    def vault_key_version(self) -> tuple[str, str]:
        return VAULT_KEY_ID, self._keys().current[KeyPurpose.VAULT]

    # --- KeyService ---------------------------------------------------------------------------

    def sign_es256(self, message: bytes) -> tuple[str, bytes]:
        key = self._keys().current_version(KeyPurpose.SIGN)
        der = key.private.sign(message, ec.ECDSA(hashes.SHA256()))
        return str((key.jwk or {})["kid"]), der_to_raw_es256(der)

    def public_keys(self) -> list[PublicKey]:
        keyring = self._keys()
        out: list[PublicKey] = []
        for purpose in (KeyPurpose.SIGN, KeyPurpose.JWE):
            for label, version in keyring.versions[purpose].items():
                if version.retired or version.jwk is None:
                    continue
                out.append(
                    PublicKey(
                        kid=str(version.jwk["kid"]),
                        purpose=purpose,
                        jwk=dict(version.jwk),
                        current=label == keyring.current[purpose],
                    )
                )
        return out

    def ecdh_derive(self, *, kid: str, peer: ec.EllipticCurvePublicKey) -> bytes:
        version = self._keys().by_kid.get(kid)
        if version is None or version.purpose is not KeyPurpose.JWE or version.retired:
            raise UnknownKey()
        if not isinstance(peer.curve, ec.SECP256R1):
            raise KeyDecryptionFailed()
        secret: bytes = version.private.exchange(ec.ECDH(), peer)
        return secret

    def generate_data_key(self, *, context: Mapping[str, str]) -> DataKeyMaterial:
        key = self._keys().current_version(KeyPurpose.VAULT)
        plaintext = secrets.token_bytes(32)
        return DataKeyMaterial(
            plaintext=plaintext,
            wrapped=self._wrap(key, plaintext, context),
            key_id=VAULT_KEY_ID,
            key_version=key.version,
        )

    def decrypt_data_key(self, *, wrapped: bytes, key_id: str, context: Mapping[str, str]) -> bytes:
        return self._unwrap(wrapped, key_id, context)

    def _unwrap(self, wrapped: bytes, key_id: str, context: Mapping[str, str]) -> bytes:
        key = self._unwrap_key(wrapped, key_id)
        nonce, body = self._split(wrapped)
        try:
            return AESGCM(key.material).decrypt(nonce, body, _context_aad(context))
        except (InvalidTag, ValueError) as error:
            raise KeyDecryptionFailed() from error

    def reencrypt_data_key(
        self, *, wrapped: bytes, key_id: str, context: Mapping[str, str]
    ) -> RewrappedKey:
        plaintext = self._unwrap(wrapped, key_id, context)  # one operation, like KMS ReEncrypt
        current = self._keys().current_version(KeyPurpose.VAULT)
        return RewrappedKey(
            wrapped=self._wrap(current, plaintext, context),
            key_id=VAULT_KEY_ID,
            key_version=current.version,
        )

    def mac(self, message: bytes) -> bytes:
        key = self._keys().current_version(KeyPurpose.FINGERPRINT)
        return hmac.new(key.material, message, hashlib.sha256).digest()

    def health_check(self) -> None:
        keyring = self._keys()
        for purpose in KeyPurpose:
            if keyring.current_version(purpose).retired:
                raise KeyUnavailable(f"The current {purpose.value} key is retired.")
        # Exercise every key once, so a damaged keyring is caught before traffic is.
        _, signature = self.sign_es256(b"health")
        sign_key = keyring.current_version(KeyPurpose.SIGN)
        try:
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            sign_key.private.public_key().verify(
                encode_dss_signature(r, s), b"health", ec.ECDSA(hashes.SHA256())
            )
        except InvalidSignature as error:
            raise KeyUnavailable("The signing key does not verify.") from error
        context = {"purpose": "health"}
        material = self.generate_data_key(context=context)
        if (
            self.decrypt_data_key(wrapped=material.wrapped, key_id=material.key_id, context=context)
            != material.plaintext
        ):
            raise KeyUnavailable("The vault key does not round-trip.")

    # --- wrapping format ----------------------------------------------------------------------

    @staticmethod
    def _wrap(key: _Version, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        if key.retired:
            raise KeyUnavailable("The vault key version is retired.")
        label = key.version.encode("ascii")
        nonce = secrets.token_bytes(_NONCE)
        body = AESGCM(key.material).encrypt(nonce, plaintext, _context_aad(context))
        return _WRAP_MAGIC + struct.pack(">B", len(label)) + label + nonce + body

    def _unwrap_key(self, wrapped: bytes, key_id: str) -> _Version:
        if key_id != VAULT_KEY_ID or not wrapped.startswith(_WRAP_MAGIC) or len(wrapped) < 6:
            raise KeyDecryptionFailed()
        size = wrapped[len(_WRAP_MAGIC)]
        label = wrapped[len(_WRAP_MAGIC) + 1 : len(_WRAP_MAGIC) + 1 + size].decode(
            "ascii", "replace"
        )
        version = self._keys().versions[KeyPurpose.VAULT].get(label)
        if version is None:
            raise KeyDecryptionFailed()
        if version.retired:
            # Retired on purpose: its material is gone, so this can never succeed again.
            raise KeyDecryptionFailed("The data key is wrapped under a retired key version.")
        return version

    @staticmethod
    def _split(wrapped: bytes) -> tuple[bytes, bytes]:
        start = len(_WRAP_MAGIC) + 1 + wrapped[len(_WRAP_MAGIC)]
        return wrapped[start : start + _NONCE], wrapped[start + _NONCE :]
