"""The ``Tessera-Signature`` scheme and the verifier merchants copy (no database)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from checkout.webhooks.signature import (
    SignatureVerificationError,
    compute_signature,
    signature_header,
    verify_signature,
)

SECRET = "whsec_testsecret0000000000000000000000000000"
OTHER = "whsec_othersecret000000000000000000000000000"
BODY = b'{"id":"evt_1","object":"event","type":"charge.succeeded"}'
T = 1_900_000_000


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_in_hex() -> None:
    # given the documented construction, computed independently
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()

    # when / then
    assert compute_signature(secret=SECRET, timestamp=T, payload=BODY) == expected
    assert signature_header(payload=BODY, secrets=[SECRET], timestamp=T) == f"t={T},v1={expected}"


def test_a_fresh_signature_verifies_from_bytes_and_from_text() -> None:
    header = signature_header(payload=BODY, secrets=[SECRET], timestamp=T)

    verify_signature(BODY, header, SECRET, now=T + 10)
    verify_signature(BODY.decode(), header, SECRET, now=T - 10)


def test_any_of_several_v1_signatures_verifies_during_a_secret_roll() -> None:
    header = signature_header(payload=BODY, secrets=[SECRET, OTHER], timestamp=T)

    assert header.count("v1=") == 2
    verify_signature(BODY, header, SECRET, now=T)
    verify_signature(BODY, header, OTHER, now=T)
    with pytest.raises(SignatureVerificationError):
        verify_signature(BODY, header, "whsec_neither", now=T)


@pytest.mark.parametrize(
    ("body", "secret", "now"),
    [
        (BODY + b" ", SECRET, T),  # body altered (even whitespace)
        (BODY, OTHER, T),  # wrong secret
        (BODY, SECRET, T + 301),  # replayed after the 5-minute tolerance
        (BODY, SECRET, T - 301),  # dated too far in the future
    ],
    ids=["altered-body", "wrong-secret", "too-old", "too-new"],
)
def test_altered_wrong_or_stale_payloads_are_rejected(body: bytes, secret: str, now: int) -> None:
    header = signature_header(payload=BODY, secrets=[SECRET], timestamp=T)

    with pytest.raises(SignatureVerificationError):
        verify_signature(body, header, secret, now=now)


def test_the_tolerance_is_five_minutes_by_default_and_adjustable() -> None:
    header = signature_header(payload=BODY, secrets=[SECRET], timestamp=T)

    verify_signature(BODY, header, SECRET, now=T + 300)
    verify_signature(BODY, header, SECRET, tolerance=3600, now=T + 3000)
    with pytest.raises(SignatureVerificationError):
        verify_signature(BODY, header, SECRET, tolerance=60, now=T + 61)


def test_the_timestamp_is_covered_by_the_signature() -> None:
    header = signature_header(payload=BODY, secrets=[SECRET], timestamp=T)
    moved = header.replace(f"t={T}", f"t={T + 1000}")

    with pytest.raises(SignatureVerificationError, match="No signature matches"):
        verify_signature(BODY, moved, SECRET, now=T + 1000)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=abc",
        f"t={T}",
        f"t=abc,v1={'0' * 64}",
        f"t={T},t={T},v1={'0' * 64}",
        f"t=-{T},v1={'0' * 64}",
        f"t={T},v0={'0' * 64}",
        f"t={T},v1=ünïcödé",
        "t=1," + "v1=x," * 2000,
    ],
    ids=[
        "none",
        "empty",
        "no-timestamp",
        "no-signature",
        "bad-timestamp",
        "two-timestamps",
        "negative",
        "other-scheme-only",
        "non-ascii",
        "oversized",
    ],
)
def test_malformed_headers_are_rejected_not_crashed_on(header: str | None) -> None:
    with pytest.raises(SignatureVerificationError):
        verify_signature(BODY, header, SECRET, now=T)


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        signature_header(payload=BODY, secrets=[], timestamp=T)
