"""Adyen's HMAC signature on a standard notification item.

The signed string is eight fields of the ``NotificationRequestItem`` joined by ``:`` —
pspReference, originalReference, merchantAccountCode, merchantReference, amount value, amount
currency, eventCode, success — each empty when absent; the key is the hex key from Adyen's
Customer Area; the signature is base64(HMAC-SHA256) in ``additionalData.hmacSignature``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any


def signing_string(item: Mapping[str, Any]) -> str:
    amount = item.get("amount") or {}
    return ":".join(
        str(part if part is not None else "")
        for part in (
            item.get("pspReference", ""),
            item.get("originalReference", ""),
            item.get("merchantAccountCode", ""),
            item.get("merchantReference", ""),
            amount.get("value", "") if isinstance(amount, Mapping) else "",
            amount.get("currency", "") if isinstance(amount, Mapping) else "",
            item.get("eventCode", ""),
            item.get("success", ""),
        )
    )


def item_signature(item: Mapping[str, Any], key_hex: str) -> str:
    key = binascii.a2b_hex(key_hex)
    digest = hmac.new(key, signing_string(item).encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def item_verify(item: Mapping[str, Any], key_hex: str) -> bool:
    """True when the item carries a signature made with ``key_hex``; compared in constant
    time. Unsigned items and a key that is not hex are False."""
    additional = item.get("additionalData") or {}
    given = additional.get("hmacSignature") if isinstance(additional, Mapping) else None
    if not isinstance(given, str) or not given or not key_hex:
        return False
    try:
        expected = item_signature(item, key_hex)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))
