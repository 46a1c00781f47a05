"""Masking of card data in anything that leaves the process as text (logs, Sentry, errors).

Two independent nets, because either alone misses cases: values under sensitive keys are
masked whatever they look like (a CVC is just three digits), and any card number — 13–19
Luhn-valid digits of any script, whatever separates them — is masked wherever it appears in
free text (``payments_site.kernel.cards``, the detector input validation uses too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from payments_site.kernel.cards import CVC_MASK, card_data_mask

MASK = CVC_MASK
# Every Luhn-valid 13–19 digit run and every named security code: the kernel's detector, the
# same one input validation refuses with.
redact_text = card_data_mask

# Key words that make a value sensitive wherever they appear as a word of the key:
# "card_number", "cardNumber", "cvc", "card_jwe", "X-Card-PAN"...
_SENSITIVE_WORDS = frozenset(
    {
        "number",
        "pan",
        "cvc",
        "cvv",
        "cvn",
        "cvv2",
        "cvc2",
        "csc",
        "jwe",
        "jwt",
        "secret",
        "password",
        "passwd",
        "authorization",
        "cookie",
        "track",
        "pin",
        # Personal data: a customer's address never reaches a log line or an error report.
        "email",
    }
)
_SENSITIVE_KEYS = frozenset({"card", "token_secret", "api_key", "apikey", "sessionid", "csrftoken"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def is_sensitive_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    if lowered in _SENSITIVE_KEYS:
        return True
    words = set(_NON_WORD.split(_CAMEL.sub("_", key).lower()))
    return bool(words & _SENSITIVE_WORDS)


def redact(value: Any, _depth: int = 0) -> Any:
    """Return ``value`` with sensitive keys masked and PANs removed from all strings.

    Containers are copied, never mutated: the caller's objects stay intact.
    """
    if _depth > 12:
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {
            k: (MASK if is_sensitive_key(k) and v not in (None, "") else redact(v, _depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, tuple):
        return tuple(redact(v, _depth + 1) for v in value)
    if isinstance(value, list | set | frozenset):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10**12:
        return redact_text(str(value))
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))
