"""The KeyService contract, proved on every backend (local, moto, moto_server over HTTP)."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
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
    assert {k: enc[k] for k in ("kty", "crv", "use", "alg")} == {
        "kty": "EC",
        "crv": "P-256",
        "use": "enc",
        "alg": "ECDH-ES",
    }
    assert enc["kid"] != sign["kid"]
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


# --- ECDH (the JWE key agreement) ---------------------------------------------------------


def _ecdh_public(service: KeyService) -> ec.EllipticCurvePublicKey:
    key = _public(service, KeyPurpose.JWE).get_op_key("encrypt")
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def test_ecdh_derives_the_same_secret_as_the_peer(key_service: KeyService) -> None:
    # given an ephemeral key on the browser's side and the published vault key
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    kid = _public(key_service, KeyPurpose.JWE)["kid"]

    # when the backend derives with the vault's private half
    secret = key_service.ecdh_derive(kid=kid, peer=ephemeral.public_key())

    # then it is the raw x coordinate both sides compute, and differs per ephemeral key
    assert secret == ephemeral.exchange(ec.ECDH(), _ecdh_public(key_service))
    assert len(secret) == 32
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert key_service.ecdh_derive(kid=kid, peer=other) != secret


def test_ecdh_refuses_unknown_and_signing_kids(key_service: KeyService) -> None:
    peer = ec.generate_private_key(ec.SECP256R1()).public_key()
    sign_kid = _public(key_service, KeyPurpose.SIGN)["kid"]

    for kid in ("nope", sign_kid, "../../etc/passwd"):
        with pytest.raises(UnknownKey):
            key_service.ecdh_derive(kid=kid, peer=peer)


def test_ecdh_refuses_a_peer_on_another_curve(key_service: KeyService) -> None:
    kid = _public(key_service, KeyPurpose.JWE)["kid"]
    peer = ec.generate_private_key(ec.SECP384R1()).public_key()

    with pytest.raises(KeyServiceError):
        key_service.ecdh_derive(kid=kid, peer=peer)


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
def test_disabled_jwe_key_refuses_to_derive(
    key_service: KeyService, disable_key: Callable[[KeyPurpose], None]
) -> None:
    kid = _public(key_service, KeyPurpose.JWE)["kid"]
    peer = ec.generate_private_key(ec.SECP256R1()).public_key()
    disable_key(KeyPurpose.JWE)

    with pytest.raises(KeyUnavailable):
        key_service.ecdh_derive(kid=kid, peer=peer)


@AWS_BACKENDS
def test_key_agreement_key_cannot_sign_and_signing_key_cannot_derive(
    key_service: AwsKmsKeyService,
) -> None:
    """The patched moto keeps AWS's key-usage separation, so the tests above mean something."""
    from botocore.exceptions import ClientError
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    client = key_service.client
    peer = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = peer.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ClientError, match="InvalidKeyUsage"):
        client.derive_shared_secret(
            KeyId="alias/tessera-sign", KeyAgreementAlgorithm="ECDH", PublicKey=spki
        )
    with pytest.raises(ClientError):
        client.sign(
            KeyId="alias/tessera-jwe",
            Message=hashlib.sha256(b"x").digest(),
            MessageType="DIGEST",
            SigningAlgorithm="ECDSA_SHA_256",
        )
    jwe = client.describe_key(KeyId="alias/tessera-jwe")["KeyMetadata"]
    assert jwe["KeyAgreementAlgorithms"] == ["ECDH"] and "SigningAlgorithms" not in jwe


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
    assert "AUDIT_KMS_KEY_ID=alias/tessera-audit" in out
    audit = client.describe_key(KeyId="alias/tessera-audit")["KeyMetadata"]
    assert (audit["KeySpec"], audit["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    vault = client.describe_key(KeyId="alias/tessera-vault")["KeyMetadata"]
    assert client.get_key_rotation_status(KeyId=vault["KeyId"])["KeyRotationEnabled"] is True
    jwe = client.describe_key(KeyId="alias/tessera-jwe")["KeyMetadata"]
    assert (jwe["KeySpec"], jwe["KeyUsage"]) == ("ECC_NIST_P256", "KEY_AGREEMENT")


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

    first = LocalKeyService(path)
    kid = first.sign_es256(b"x")[0]

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # a second process reads the same keys instead of making new ones
    assert LocalKeyService(path).sign_es256(b"x")[0] == kid


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


def test_local_keyring_with_an_rsa_jwe_key_gets_a_p256_one(keyring_path: Path) -> None:
    """A keyring made before ECDH-ES: its RSA JWE key is never published or used again."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    raw = json.loads(keyring_path.read_text())
    der = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    import base64

    raw["keys"]["jwe"] = {
        "current": "1",
        "versions": {
            "1": {
                "created": "2026-01-01T00:00:00+00:00",
                "retired": False,
                "material": base64.b64encode(der).decode(),
            }
        },
    }
    keyring_path.write_text(json.dumps(raw))

    service = LocalKeyService(keyring_path)
    published = [k for k in service.public_keys() if k.purpose is KeyPurpose.JWE]

    assert [(k.jwk["kty"], k.jwk["alg"], k.current) for k in published] == [("EC", "ECDH-ES", True)]
    assert json.loads(keyring_path.read_text())["keys"]["jwe"]["current"] == "2"
