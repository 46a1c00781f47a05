"""The KeyService contract, proved on every backend (local, moto, moto_server over HTTP)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from jwcrypto import jwk

from payments_site.problems import problem_of
from tests.payments_site.test_settings import production_env
from tests.support.servers import ROOT
from tests.vault.conftest import AWS_BACKENDS
from vault.keys import (
    KeyDecryptionFailed,
    KeyPurpose,
    KeyService,
    KeyServiceError,
    KeyUnavailable,
    UnknownKey,
)
from vault.keys.aws import AwsKmsKeyService
from vault.keys.jwk import der_to_raw_es256, jwk_thumbprint
from vault.keys.local import LocalKeyService

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
CONTEXT = {"purpose": "card", "merchant": "mer_test"}


def _public(service: KeyService, purpose: KeyPurpose, *, current: bool = True) -> jwk.JWK:
    key = next(k for k in service.public_keys() if k.purpose is purpose and k.current is current)
    return jwk.JWK(**key.jwk)


def _verify_es256(public: jwk.JWK, message: bytes, signature: bytes) -> None:
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    public.get_op_key("verify").verify(
        encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256())
    )


# --- signing ------------------------------------------------------------------------------------


def test_es256_signature_verifies_with_the_published_key(key_service: KeyService) -> None:
    # given the published signing key
    public = _public(key_service, KeyPurpose.SIGN)

    # when a message is signed
    kid, signature = key_service.sign_es256(b"header.payload")

    # then it is a 64-byte R||S under that key's kid, and verifies only for that message
    assert kid == public["kid"] == public.thumbprint()
    assert len(signature) == 64
    _verify_es256(public, b"header.payload", signature)
    with pytest.raises(InvalidSignature):
        _verify_es256(public, b"header.payloaD", signature)


def test_published_jwks_have_the_expected_shape(key_service: KeyService) -> None:
    keys = {k.purpose: k for k in key_service.public_keys() if k.current}

    sign, enc = keys[KeyPurpose.SIGN].jwk, keys[KeyPurpose.JWE].jwk
    assert {k: sign[k] for k in ("kty", "crv", "use", "alg")} == {
        "kty": "EC",
        "crv": "P-256",
        "use": "sig",
        "alg": "ES256",
    }
    assert {k: enc[k] for k in ("kty", "use", "alg")} == {
        "kty": "RSA",
        "use": "enc",
        "alg": "RSA-OAEP-256",
    }
    assert jwk.JWK(**enc).get_op_key("encrypt").key_size == 3072
    # RFC 7638 thumbprints as kids; no private member is ever published
    for key in (sign, enc):
        assert key["kid"] == jwk_thumbprint(key) == jwk.JWK(**key).thumbprint()
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)
    assert key_service.public_key(str(sign["kid"])).jwk == sign


def test_signatures_with_leading_zero_bytes_are_padded_to_32_bytes(keyring_path: Path) -> None:
    # given a local signer (fast enough to draw thousands of signatures)
    service = LocalKeyService(keyring_path)
    public = _public(service, KeyPurpose.SIGN)
    short = 0

    # when we sign until R or S has a leading zero byte (≈1 in 64 signatures)
    for index in range(3000):
        message = index.to_bytes(4, "big")
        _, signature = service.sign_es256(message)
        if signature[0] == 0 or signature[32] == 0:
            short += 1
            # then the padded signature still verifies
            _verify_es256(public, message, signature)
        if short >= 3:
            break

    assert short >= 3


@given(
    r=st.integers(min_value=1, max_value=(1 << 256) - 1),
    s=st.integers(min_value=1, max_value=(1 << 256) - 1),
)
def test_der_to_raw_round_trips_any_p256_pair(r: int, s: int) -> None:
    raw = der_to_raw_es256(encode_dss_signature(r, s))

    assert len(raw) == 64
    assert (int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")) == (r, s)


@pytest.mark.parametrize(
    "der",
    [
        b"",
        b"\x30\x00",
        encode_dss_signature(1 << 256, 1),  # 33 significant bytes: not P-256
        encode_dss_signature(1, 0),
        encode_dss_signature(5, 7) + b"\x00",  # trailing garbage
    ],
)
def test_der_to_raw_refuses_malformed_signatures(der: bytes) -> None:
    with pytest.raises(KeyServiceError):
        der_to_raw_es256(der)


# --- RSA-OAEP (the JWE content-encryption key) ----------------------------------------------


def test_rsa_oaep_round_trip(key_service: KeyService) -> None:
    public = _public(key_service, KeyPurpose.JWE)
    cek = os.urandom(32)
    ciphertext = public.get_op_key("encrypt").encrypt(cek, OAEP)

    assert key_service.rsa_oaep_decrypt(kid=public["kid"], ciphertext=ciphertext) == cek


def test_rsa_oaep_refuses_tampered_ciphertext_and_unknown_kid(key_service: KeyService) -> None:
    public = _public(key_service, KeyPurpose.JWE)
    ciphertext = bytearray(public.get_op_key("encrypt").encrypt(os.urandom(32), OAEP))
    ciphertext[10] ^= 1
    sign_kid = _public(key_service, KeyPurpose.SIGN)["kid"]

    with pytest.raises(KeyDecryptionFailed):
        key_service.rsa_oaep_decrypt(kid=public["kid"], ciphertext=bytes(ciphertext))
    for kid in ("nope", sign_kid, "../../etc/passwd"):
        with pytest.raises(UnknownKey):
            key_service.rsa_oaep_decrypt(kid=kid, ciphertext=bytes(ciphertext))


def test_rsa_oaep_sha1_ciphertext_is_refused(key_service: KeyService) -> None:
    # RSA-OAEP with SHA-1 (JWE "RSA-OAEP") must not be accepted where SHA-256 is expected.
    public = _public(key_service, KeyPurpose.JWE)
    sha1 = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
    ciphertext = public.get_op_key("encrypt").encrypt(os.urandom(32), sha1)

    with pytest.raises(KeyDecryptionFailed):
        key_service.rsa_oaep_decrypt(kid=public["kid"], ciphertext=ciphertext)


# --- data keys ------------------------------------------------------------------------------


def test_data_key_round_trip_and_rewrap(key_service: KeyService) -> None:
    # given a fresh data key
    material = key_service.generate_data_key(context=CONTEXT)
    assert len(material.plaintext) == 32
    assert material.plaintext not in material.wrapped

    # when it is unwrapped, and re-wrapped
    unwrapped = key_service.decrypt_data_key(
        wrapped=material.wrapped, key_id=material.key_id, context=dict(reversed(CONTEXT.items()))
    )
    rewrapped = key_service.reencrypt_data_key(
        wrapped=material.wrapped, key_id=material.key_id, context=CONTEXT
    )

    # then both give back the same plaintext; the re-wrapped blob is new
    assert unwrapped == material.plaintext
    assert rewrapped.wrapped != material.wrapped
    assert (
        key_service.decrypt_data_key(
            wrapped=rewrapped.wrapped, key_id=rewrapped.key_id, context=CONTEXT
        )
        == material.plaintext
    )


@pytest.mark.parametrize(
    "context",
    [
        {"purpose": "card", "merchant": "mer_other"},
        {"purpose": "card"},
        {**CONTEXT, "extra": "1"},
    ],
)
def test_data_key_with_wrong_context_fails_closed(
    key_service: KeyService, context: dict[str, str]
) -> None:
    material = key_service.generate_data_key(context=CONTEXT)

    with pytest.raises(KeyDecryptionFailed):
        key_service.decrypt_data_key(
            wrapped=material.wrapped, key_id=material.key_id, context=context
        )
    with pytest.raises(KeyDecryptionFailed):
        key_service.reencrypt_data_key(
            wrapped=material.wrapped, key_id=material.key_id, context=context
        )


def test_tampered_wrapped_data_key_fails_closed(key_service: KeyService) -> None:
    material = key_service.generate_data_key(context=CONTEXT)
    tampered = bytearray(material.wrapped)
    tampered[-1] ^= 0x80

    with pytest.raises(KeyDecryptionFailed):
        key_service.decrypt_data_key(
            wrapped=bytes(tampered), key_id=material.key_id, context=CONTEXT
        )


# --- MAC ------------------------------------------------------------------------------------


def test_mac_is_a_stable_keyed_hmac(key_service: KeyService) -> None:
    first = key_service.mac(b"mer_a|card")

    assert len(first) == 32
    assert key_service.mac(b"mer_a|card") == first
    assert key_service.mac(b"mer_b|card") != first
    # keyed: not the plain SHA-256 of the message
    assert first != hashlib.sha256(b"mer_a|card").digest()


def test_health_check_passes(key_service: KeyService) -> None:
    key_service.health_check()


# --- AWS specifics: disabled keys, errors, bootstrap ----------------------------------------


@AWS_BACKENDS
@pytest.mark.parametrize(
    ("purpose", "operation"),
    [
        (KeyPurpose.VAULT, lambda s, m: s.generate_data_key(context=CONTEXT)),
        (
            KeyPurpose.VAULT,
            lambda s, m: s.decrypt_data_key(wrapped=m.wrapped, key_id=m.key_id, context=CONTEXT),
        ),
        (
            KeyPurpose.VAULT,
            lambda s, m: s.reencrypt_data_key(wrapped=m.wrapped, key_id=m.key_id, context=CONTEXT),
        ),
        (KeyPurpose.FINGERPRINT, lambda s, m: s.mac(b"x")),
        (KeyPurpose.SIGN, lambda s, m: s.sign_es256(b"x")),
        (KeyPurpose.VAULT, lambda s, m: s.health_check()),
    ],
)
def test_disabled_kms_key_fails_closed_with_retry_after(
    key_service: KeyService,
    disable_key: Callable[[KeyPurpose], None],
    purpose: KeyPurpose,
    operation: Callable[..., object],
) -> None:
    # given a data key made while the keys were enabled, and public keys already cached
    material = key_service.generate_data_key(context=CONTEXT)
    key_service.public_keys()

    # when the KMS key is disabled
    disable_key(purpose)

    # then the operation is refused as "unavailable, retry later" (HTTP 503)
    with pytest.raises(KeyUnavailable) as raised:
        operation(key_service, material)
    assert problem_of(raised.value).status == 503
    assert raised.value.retry_after is not None and raised.value.retry_after > 0


@AWS_BACKENDS
def test_disabled_jwe_key_refuses_rsa_decrypt(
    key_service: KeyService, disable_key: Callable[[KeyPurpose], None]
) -> None:
    public = _public(key_service, KeyPurpose.JWE)
    ciphertext = public.get_op_key("encrypt").encrypt(os.urandom(32), OAEP)
    disable_key(KeyPurpose.JWE)

    with pytest.raises(KeyUnavailable):
        key_service.rsa_oaep_decrypt(kid=public["kid"], ciphertext=ciphertext)


def test_unreachable_kms_is_unavailable_not_a_crash() -> None:
    from tests.support.kms import aws_config, free_port, use_fake_credentials

    use_fake_credentials()
    config = aws_config({}, endpoint_url=f"http://127.0.0.1:{free_port()}")
    service = AwsKmsKeyService(config)

    with pytest.raises(KeyUnavailable):
        service.mac(b"x")
    with pytest.raises(KeyUnavailable):
        service.public_keys()


@AWS_BACKENDS
def test_kms_bootstrap_is_idempotent_and_turns_rotation_on(
    key_service: AwsKmsKeyService, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the keys exist already (the fixture bootstrapped them)
    client = key_service.client
    before = {a["AliasName"]: a["TargetKeyId"] for a in client.list_aliases()["Aliases"]}

    # when the command runs again
    call_command("kms_bootstrap")

    # then it reuses every alias, prints the settings, and the vault key rotates
    after = {a["AliasName"]: a["TargetKeyId"] for a in client.list_aliases()["Aliases"]}
    assert after == before
    out = capsys.readouterr().out.splitlines()
    assert "KEYS_BACKEND=aws" in out
    assert "KMS_VAULT_KEY_ID=alias/tessera-vault" in out
    assert "KMS_JWE_KEY_ID=alias/tessera-jwe" in out
    vault = client.describe_key(KeyId="alias/tessera-vault")["KeyMetadata"]
    assert client.get_key_rotation_status(KeyId=vault["KeyId"])["KeyRotationEnabled"] is True
    jwe = client.describe_key(KeyId="alias/tessera-jwe")["KeyMetadata"]
    assert (jwe["KeySpec"], jwe["KeyUsage"]) == ("RSA_3072", "ENCRYPT_DECRYPT")


@AWS_BACKENDS
def test_public_keys_are_cached_in_process(key_service: AwsKmsKeyService) -> None:
    calls: list[str] = []
    key_service.client.meta.events.register(
        "before-call.kms", lambda model, **_: calls.append(model.name)
    )

    for _ in range(5):
        key_service.public_keys()
        key_service.sign_es256(b"x")

    assert calls.count("GetPublicKey") == 2  # SIGN and JWE, once
    assert calls.count("Sign") == 5


@pytest.mark.django_db
def test_readiness_checks_the_key_service(key_service: KeyService, client: Client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "counters": "ok", "keys": "ok"}


@AWS_BACKENDS
@pytest.mark.django_db
def test_readiness_fails_when_a_kms_key_is_disabled(
    key_service: KeyService, disable_key: Callable[[KeyPurpose], None], client: Client
) -> None:
    disable_key(KeyPurpose.FINGERPRINT)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "counters": "ok", "keys": "unavailable"}


# --- local keyring --------------------------------------------------------------------------


def test_local_keyring_is_created_once_with_0600(tmp_path: Path) -> None:
    path = tmp_path / "run" / "keyring.json"

    first = LocalKeyService(path, rsa_bits=2048)
    kid = first.sign_es256(b"x")[0]

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # a second process reads the same keys instead of making new ones
    assert LocalKeyService(path, rsa_bits=2048).sign_es256(b"x")[0] == kid


def test_local_keyring_readable_by_others_is_refused(keyring_path: Path) -> None:
    keyring_path.chmod(0o644)

    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        LocalKeyService(keyring_path).mac(b"x")


def test_local_rotation_keeps_old_versions_until_retired(keyring_path: Path) -> None:
    service = LocalKeyService(keyring_path)
    old = service.generate_data_key(context=CONTEXT)
    old_sign = _public(service, KeyPurpose.SIGN)

    # when the vault and signing keys rotate (in another process's view too)
    assert service.rotate_key(KeyPurpose.VAULT) == "2"
    service.rotate_key(KeyPurpose.SIGN)
    other = LocalKeyService(keyring_path)

    # then new data keys use version 2, old ones still open, the old signing key stays listed
    new = other.generate_data_key(context=CONTEXT)
    assert (old.key_version, new.key_version) == ("1", "2")
    assert other.decrypt_data_key(wrapped=old.wrapped, key_id=old.key_id, context=CONTEXT)
    assert _public(other, KeyPurpose.SIGN, current=False)["kid"] == old_sign["kid"]
    assert other.sign_es256(b"x")[0] != old_sign["kid"]

    # and once version 1 is retired, what was wrapped under it never opens again
    rewrapped = other.reencrypt_data_key(wrapped=old.wrapped, key_id=old.key_id, context=CONTEXT)
    assert other.retire_vault_key_version(key_id=old.key_id, key_version="1") is True
    with pytest.raises(KeyDecryptionFailed):
        service.decrypt_data_key(wrapped=old.wrapped, key_id=old.key_id, context=CONTEXT)
    assert (
        service.decrypt_data_key(
            wrapped=rewrapped.wrapped, key_id=rewrapped.key_id, context=CONTEXT
        )
        == old.plaintext
    )
    stored = json.loads(keyring_path.read_text())["keys"]["vault"]["versions"]
    assert stored["1"] == {**stored["1"], "retired": True, "material": ""}
    with pytest.raises(ValueError, match="current"):
        service.retire_vault_key_version(key_id=old.key_id, key_version="2")
    with pytest.raises(ValueError, match="not rotated"):
        service.rotate_key(KeyPurpose.FINGERPRINT)


def _settings_run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import django; django.setup(); "
        "from django.conf import settings; print(settings.KEYS_BACKEND)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**production_env(), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_the_local_backend_unless_explicitly_allowed() -> None:
    refused = _settings_run({"KEYS_BACKEND": "local"})
    allowed = _settings_run({"KEYS_BACKEND": "local", "LOCAL_KEYS_ALLOWED_IN_PRODUCTION": "true"})

    assert refused.returncode != 0
    assert "KEYS_BACKEND=local keeps keys on disk and is refused in production" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.strip() == "vault.keys.local.LocalKeyService"


def test_production_names_every_missing_kms_setting() -> None:
    result = _settings_run({"KEYS_BACKEND": "aws"})

    assert result.returncode != 0
    assert (
        "KMS_SIGN_KEY_ID, KMS_JWE_KEY_ID, KMS_VAULT_KEY_ID, KMS_FINGERPRINT_KEY_ID, AWS_REGION"
        in result.stderr
    )
