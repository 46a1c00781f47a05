"""The audit signing key: KMS ``Sign`` over the seal hash, checked with the public key alone."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.test import override_settings
from moto import mock_aws

from monitoring.audit.export import export_lines
from monitoring.audit.sealer import seal_pending
from monitoring.audit.signing import (
    KmsHeadSigner,
    LocalHeadSigner,
    SigningUnavailable,
    head_signer,
    public_key_id,
    signature_valid,
)
from monitoring.audit.verify import verify_trail
from tests.monitoring.audit.support import record
from tests.support.kms import REGION, patch_moto_kms, use_fake_credentials

DIGEST = hashlib.sha256(b"a seal").hexdigest()


@pytest.fixture
def kms() -> Iterator[Any]:
    patch_moto_kms()
    use_fake_credentials()
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


@pytest.fixture
def kms_key(kms: Any) -> str:
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    return str(key["KeyMetadata"]["KeyId"])


@pytest.fixture
def on_kms(kms_key: str) -> Iterator[str]:
    head_signer.cache_clear()
    with override_settings(AUDIT_SIGNING_BACKEND="aws", AUDIT_KMS_KEY_ID=kms_key):
        yield kms_key
    head_signer.cache_clear()


def test_kms_signs_the_digest_and_only_the_public_key_is_needed_to_check(
    kms: Any, kms_key: str
) -> None:
    signer = KmsHeadSigner(kms_key, kms)

    signature = signer.sign(DIGEST)

    assert signature_valid(signer.public_pem, DIGEST, signature)
    assert not signature_valid(signer.public_pem, hashlib.sha256(b"other").hexdigest(), signature)
    assert signer.key_id == public_key_id(signer.public_pem)


def test_a_disabled_kms_key_makes_signing_unavailable(kms: Any, kms_key: str) -> None:
    kms.disable_key(KeyId=kms_key)

    with pytest.raises(SigningUnavailable, match="KMS Sign failed"):
        KmsHeadSigner(kms_key, kms).sign(DIGEST)


@pytest.mark.django_db
def test_the_sealer_signs_heads_with_the_kms_key(on_kms: str) -> None:
    record(3)

    outcome = seal_pending(sign=True)

    signer = head_signer()
    assert isinstance(signer, KmsHeadSigner) and signer.kms_key_id == on_kms
    assert outcome.signed and outcome.seal is not None
    assert outcome.seal.key_id == signer.key_id
    report = verify_trail(
        export_lines(since_id=1, until_id=None), public_keys={signer.key_id: signer.public_pem}
    )
    assert report.ok and report.signed_through == 1


@pytest.mark.django_db
def test_with_kms_down_the_seal_is_written_unsigned_and_signed_later(on_kms: str, kms: Any) -> None:
    record(2)
    head_signer().public_pem  # noqa: B018 - cached before the outage, as in a running process
    kms.disable_key(KeyId=on_kms)

    unsigned = seal_pending(sign=True)
    kms.enable_key(KeyId=on_kms)
    later = seal_pending(sign=True)

    assert unsigned.seal is not None and unsigned.sealed == 2 and not unsigned.signed
    assert later.signed and later.seal is not None and later.seal.events == []


def test_the_local_key_file_is_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit.pem"
    first = LocalHeadSigner(path)
    signature = first.sign(DIGEST)

    assert path.stat().st_mode & 0o777 == 0o600
    again = LocalHeadSigner(path)
    assert again.key_id == first.key_id
    assert signature_valid(again.public_pem, DIGEST, signature)
