"""The ``Tessera-Signature`` scheme, and the verifier merchants run on their side.

Every delivery carries ``Tessera-Signature: t=<unix time>,v1=<hex>[,v1=<hex>]`` where each
``v1`` is ``HMAC-SHA256(key=secret, msg=f"{t}." + raw body)`` in lowercase hex, one per signing
secret that is valid at that moment (two while a rolled secret overlaps with its successor).
The secret is the whole ``whsec_…`` string, UTF-8 encoded.

This module depends on the standard library only, so merchants can copy
``verify_signature`` into their own code (the README shows it in use).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

HEADER = "Tessera-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300
_MAX_HEADER = 4096


class SignatureVerificationError(ValueError):
    """The payload is not proven to come from Tessera: reject it (answer 400)."""


def compute_signature(*, secret: str, timestamp: int, payload: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<payload>"`` under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(*, payload: bytes, secrets: Iterable[str], timestamp: int) -> str:
    """``t=<timestamp>,v1=<sig under the first secret>,v1=<…>`` (newest secret first)."""
    signatures = [
        f"{SCHEME}={compute_signature(secret=s, timestamp=timestamp, payload=payload)}"
        for s in secrets
    ]
    if not signatures:
        raise ValueError("At least one signing secret is needed.")
    return ",".join([f"t={timestamp}", *signatures])


def verify_signature(
    payload: bytes | str,
    header: str | None,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> None:
    """Raise ``SignatureVerificationError`` unless ``header`` holds a ``v1`` signature of the
    raw ``payload`` under ``secret``, made within ``tolerance`` seconds of ``now`` (default:
    the current time; either side, so a replay days later fails). Pass the body exactly as
    received, before any JSON parsing. Signatures are compared in constant time."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if not header or len(header) > _MAX_HEADER:
        raise SignatureVerificationError("Missing or oversized signature header.")
    timestamp: int | None = None
    candidates: list[bytes] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if timestamp is not None or not value.isdigit() or len(value) > 12:
                raise SignatureVerificationError("The signature header's timestamp is malformed.")
            timestamp = int(value)
        elif key == SCHEME:
            candidates.append(value.encode("utf-8", "replace"))
    if timestamp is None:
        raise SignatureVerificationError("The signature header has no timestamp.")
    if not candidates:
        raise SignatureVerificationError("The signature header has no v1 signature.")
    expected = compute_signature(secret=secret, timestamp=timestamp, payload=payload).encode()
    matched = False
    for candidate in candidates:  # no early exit: every candidate costs the same
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureVerificationError("No signature matches the payload and secret.")
    current = time.time() if now is None else now
    if tolerance and abs(current - timestamp) > tolerance:
        raise SignatureVerificationError("The signature's timestamp is outside the tolerance.")


__all__ = [
    "HEADER",
    "SignatureVerificationError",
    "compute_signature",
    "signature_header",
    "verify_signature",
]
