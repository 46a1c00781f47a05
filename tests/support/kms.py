"""AWS KMS for tests: moto in-process or a real ``moto_server`` on 127.0.0.1, both made to
behave like KMS where moto 5.x does not.

moto 5.2 differs from AWS KMS in four ways that matter to Tessera, and ``patch_moto_kms()``
closes each gap rather than skipping the tests that would reveal it:

1. **Disabled keys keep working.** AWS refuses every cryptographic operation (and
   GetPublicKey) on a key that is not ``Enabled``: ``DisabledException`` for a disabled key,
   ``KMSInvalidStateException`` for one pending deletion. The patch checks the key state first.
2. **No asymmetric Decrypt.** moto's Decrypt only understands its own symmetric blob format, so
   ``Decrypt(KeyId=<RSA key>, EncryptionAlgorithm=RSAES_OAEP_SHA_256)`` fails. The patch
   decrypts with the RSA private key moto keeps for the key (OAEP, SHA-256 or SHA-1 as asked),
   requires ``KeyId`` and ``EncryptionAlgorithm`` as AWS does, and answers
   ``InvalidCiphertextException`` when OAEP fails.
3. **Sign ignores ``MessageType=DIGEST``.** moto hashes the 32-byte digest again, so the
   signature does not verify over the original message. The patch signs the digest as
   pre-hashed (and checks its length), as KMS does.
4. **No DeriveSharedSecret** (and ``KEY_AGREEMENT`` keys described as signing keys). The patch
   implements it as the KMS API reference documents it: ``KeyId``, ``KeyAgreementAlgorithm``
   (only ``ECDH``) and ``PublicKey`` (a DER SubjectPublicKeyInfo) required; the key must be an
   enabled ``ECC_NIST_*`` key with ``KeyUsage=KEY_AGREEMENT`` (else
   ``InvalidKeyUsageException``); a peer key that does not parse or is on another curve is a
   ``ValidationException``; the answer is the raw shared secret — the x coordinate of the ECDH
   point, computed with the private key moto keeps — with ``KeyId`` (ARN),
   ``KeyAgreementAlgorithm`` and ``KeyOrigin``. Such keys are described with
   ``KeyAgreementAlgorithms: ["ECDH"]`` and no signing algorithms, and cannot sign.

``python -m tests.support.moto_kms_server`` applies the same patch before starting moto's
server, so suites can run the whole path over real HTTP with ``moto_server()`` below.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.servers import ROOT, free_port

REGION = "us-east-1"

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}

_PATCHED = False


def use_fake_credentials() -> None:
    """Credentials moto accepts; set in the environment so that servers the tests start (and
    botocore's credential chain, which would otherwise probe the instance metadata) see them."""
    for name, value in FAKE_CREDENTIALS.items():
        os.environ[name] = value


def patch_moto_kms() -> None:
    """Make moto's KMS behave like AWS for disabled keys, RSA-OAEP Decrypt, DIGEST signing and
    ECDH DeriveSharedSecret.

    Idempotent; patches moto's classes, so it covers ``mock_aws()`` and moto_server alike.
    """
    global _PATCHED
    if _PATCHED:
        return

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
    from moto.core.exceptions import JsonRESTError
    from moto.kms.exceptions import InvalidCiphertextException, ValidationException
    from moto.kms.models import KmsBackend
    from moto.kms.responses import KmsResponse

    def require_enabled(backend: KmsBackend, key_id: str) -> None:
        key = backend.keys.get(backend.any_id_to_key_id(key_id))
        if key is None or key.key_state == "Enabled":
            return  # moto's own NotFound handling applies
        if key.key_state == "PendingDeletion":
            raise JsonRESTError("KMSInvalidStateException", f"{key.arn} is pending deletion.")
        raise JsonRESTError("DisabledException", f"{key.arn} is disabled.")

    def guarded(name: str, *, key_arg: str, position: int) -> None:
        original = getattr(KmsBackend, name)

        def method(self: KmsBackend, *args: Any, **kwargs: Any) -> Any:
            key_id = kwargs.get(key_arg, args[position] if len(args) > position else None)
            if key_id:
                require_enabled(self, key_id)
            return original(self, *args, **kwargs)

        setattr(KmsBackend, name, method)

    # Encrypt also covers GenerateDataKey and the destination half of ReEncrypt.
    guarded("encrypt", key_arg="key_id", position=0)
    guarded("generate_mac", key_arg="key_id", position=1)
    guarded("sign", key_arg="key_id", position=0)
    guarded("verify", key_arg="key_id", position=0)
    guarded("get_public_key", key_arg="key_id", position=0)

    original_decrypt = KmsBackend.decrypt

    def decrypt(self: KmsBackend, *args: Any, **kwargs: Any) -> tuple[bytes, str]:
        # The ciphertext names its key: check that key's state before handing out plaintext.
        # (Covers the source half of ReEncrypt too.)
        plaintext, arn = original_decrypt(self, *args, **kwargs)
        require_enabled(self, arn)
        return plaintext, arn

    KmsBackend.decrypt = decrypt  # type: ignore[method-assign]

    original_decrypt_response = KmsResponse.decrypt

    def decrypt_response(self: KmsResponse) -> str:
        algorithm = self._get_param("EncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
        if algorithm == "SYMMETRIC_DEFAULT":
            return str(original_decrypt_response(self))
        if algorithm not in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"):
            raise ValidationException(f"Unsupported EncryptionAlgorithm {algorithm}")
        key_id = self._get_param("KeyId")
        if not key_id:
            raise ValidationException("KeyId is required to decrypt with an asymmetric key.")
        self._validate_key_id(key_id)
        backend = self.kms_backend
        key = backend.describe_key(key_id)
        require_enabled(backend, key.id)
        if key.key_usage != "ENCRYPT_DECRYPT" or not key.key_spec.startswith("RSA_"):
            raise JsonRESTError("InvalidKeyUsageException", "Key cannot decrypt with RSA.")
        digest = hashes.SHA256() if algorithm.endswith("256") else hashes.SHA1()  # noqa: S303
        try:
            plaintext = key.private_key.private_key.decrypt(  # type: ignore[attr-defined]
                self._get_param("CiphertextBlob"),
                padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None),
            )
        except ValueError:
            raise InvalidCiphertextException() from None
        return json.dumps(
            {
                "Plaintext": base64.b64encode(plaintext).decode("ascii"),
                "KeyId": key.arn,
                "EncryptionAlgorithm": algorithm,
            }
        )

    KmsResponse.decrypt = decrypt_response  # type: ignore[method-assign]

    original_sign_response = KmsResponse.sign
    digest_sizes = {"ECDSA_SHA_256": 32, "ECDSA_SHA_384": 48, "ECDSA_SHA_512": 64}
    digest_hashes: dict[str, type[hashes.HashAlgorithm]] = {
        "ECDSA_SHA_256": hashes.SHA256,
        "ECDSA_SHA_384": hashes.SHA384,
        "ECDSA_SHA_512": hashes.SHA512,
    }

    def sign_response(self: KmsResponse) -> str:
        if self._get_param("MessageType") != "DIGEST":
            return str(original_sign_response(self))
        key_id = self._get_param("KeyId")
        algorithm = self._get_param("SigningAlgorithm")
        digest = self._get_param("Message")
        self._validate_key_id(key_id)
        backend = self.kms_backend
        key = backend.describe_key(key_id)
        require_enabled(backend, key.id)
        if key.key_usage != "SIGN_VERIFY" or algorithm not in (key.signing_algorithms or []):
            raise ValidationException(f"Key cannot sign with {algorithm}.")
        if algorithm not in digest_sizes or len(digest) != digest_sizes[algorithm]:
            raise ValidationException("Digest is not the length of the algorithm's hash.")
        signature = key.private_key.private_key.sign(  # type: ignore[attr-defined]
            digest,
            ec.ECDSA(Prehashed(digest_hashes[algorithm]())),
        )
        return json.dumps(
            {
                "KeyId": key.arn,
                "Signature": base64.b64encode(signature).decode("ascii"),
                "SigningAlgorithm": algorithm,
            }
        )

    KmsResponse.sign = sign_response  # type: ignore[method-assign]

    from moto.kms.models import Key

    original_signing_algorithms = Key.signing_algorithms
    original_to_dict = Key.to_dict

    def signing_algorithms(self: Key) -> list[str] | None:
        if self.key_usage == "KEY_AGREEMENT":
            return None
        return original_signing_algorithms.fget(self)  # type: ignore[attr-defined]

    def to_dict(self: Key) -> dict[str, Any]:
        out: dict[str, Any] = original_to_dict(self)
        if self.key_usage == "KEY_AGREEMENT":
            metadata = out["KeyMetadata"]
            metadata.pop("SigningAlgorithms", None)
            metadata.pop("EncryptionAlgorithms", None)
            metadata["KeyAgreementAlgorithms"] = ["ECDH"]
        return out

    Key.signing_algorithms = property(signing_algorithms)  # type: ignore[assignment,method-assign]
    Key.to_dict = to_dict  # type: ignore[method-assign]

    curves = {"ECC_NIST_P256": ec.SECP256R1, "ECC_NIST_P384": ec.SECP384R1}

    def derive_shared_secret(self: KmsResponse) -> str:
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        key_id = self._get_param("KeyId")
        algorithm = self._get_param("KeyAgreementAlgorithm")
        peer_b64 = self._get_param("PublicKey")
        if not key_id or not algorithm or not peer_b64:
            raise ValidationException("KeyId, KeyAgreementAlgorithm and PublicKey are required.")
        if algorithm != "ECDH":
            raise ValidationException(f"Unsupported KeyAgreementAlgorithm {algorithm}")
        self._validate_key_id(key_id)
        backend = self.kms_backend
        key = backend.describe_key(key_id)
        require_enabled(backend, key.id)
        if key.key_usage != "KEY_AGREEMENT" or key.key_spec not in curves:
            raise JsonRESTError(
                "InvalidKeyUsageException", "The key cannot be used for key agreement."
            )
        try:
            peer = load_der_public_key(base64.b64decode(peer_b64))
        except ValueError:
            raise ValidationException("PublicKey is not a valid public key.") from None
        if not isinstance(peer, ec.EllipticCurvePublicKey) or not isinstance(
            peer.curve, curves[key.key_spec]
        ):
            raise ValidationException("PublicKey is not on the curve of the KMS key.")
        secret = key.private_key.private_key.exchange(ec.ECDH(), peer)  # type: ignore[attr-defined]
        return json.dumps(
            {
                "KeyId": key.arn,
                "SharedSecret": base64.b64encode(secret).decode("ascii"),
                "KeyAgreementAlgorithm": "ECDH",
                "KeyOrigin": key.origin,
            }
        )

    KmsResponse.derive_shared_secret = derive_shared_secret  # type: ignore[attr-defined]
    _PATCHED = True


@dataclass
class MotoServer:
    endpoint_url: str
    process: subprocess.Popen[bytes]

    def reset(self) -> None:
        """Forget every key (moto's reset API)."""
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


@contextlib.contextmanager
def moto_server(log_path: Path | None = None) -> Iterator[MotoServer]:
    """A patched moto_server subprocess on 127.0.0.1 and a free port, over plain HTTP."""
    use_fake_credentials()
    port = free_port()
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.moto_kms_server", "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = MotoServer(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not listen within 30 s") from None
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log_path:
            log.close()  # type: ignore[union-attr]


def bootstrap_keys(endpoint_url: str | None = None) -> dict[str, str]:
    """Create Tessera's keys in the (fake) account with the real ``kms_bootstrap`` code and
    return ``KMS_*`` settings for them (aliases)."""
    from vault.keys.aws import kms_bootstrap, kms_client

    config = aws_config({}, endpoint_url=endpoint_url)
    return kms_bootstrap(client=kms_client(config))


def aws_config(values: dict[str, str], *, endpoint_url: str | None = None) -> Any:
    """An ``AwsKmsConfig`` for the keys in ``values`` (as returned by ``bootstrap_keys``)."""
    from vault.keys.aws import AwsKmsConfig
    from vault.keys.base import KeyPurpose

    return AwsKmsConfig(
        region=REGION,
        endpoint_url=endpoint_url,
        key_ids={
            purpose: values.get(
                f"KMS_{purpose.value.upper()}_KEY_ID", f"alias/tessera-{purpose.value}"
            )
            for purpose in KeyPurpose
        },
        connect_timeout=2,
        read_timeout=10,
        max_attempts=2,
    )


def server_settings(values: dict[str, str], endpoint_url: str) -> dict[str, str]:
    """Environment for a gunicorn/worker subprocess to use the keys on ``endpoint_url``."""
    return {
        **FAKE_CREDENTIALS,
        "KEYS_BACKEND": "aws",
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint_url,
        **values,
    }
