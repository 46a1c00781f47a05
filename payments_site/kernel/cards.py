"""The card-number detector: the one place that decides what looks like card data in text.

A card number is a run of 13–19 digits, optionally separated by single spaces or dashes, that
passes the mod-10 check (ISO/IEC 7812-1); a security code is three or four digits right after
its name ("cvc 123", ``"cvv": "1234"``). Input validation refuses text that contains either
(``has_card_data``), and the log redaction masks them (``card_data_mask``), so the two can
never disagree about what a card number is.
"""

from __future__ import annotations

import re

PAN_MASK = "[REDACTED-PAN]"
CVC_MASK = "[REDACTED]"

# Any run of 13-19 digits, optionally separated by single spaces or dashes.
_PAN_CANDIDATE = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")

# A card security code named in free text: "cvc 123", "CVV2=1234", '"cvc": "123"'. A bare
# three-digit number cannot be told from any other, but one right after its name can.
_CVC_IN_TEXT = re.compile(
    r"(?i)(?<![a-z0-9])(cvc2?|cvv2?|cvn|csc|security[ _-]?code)([\"' :=]{1,4})([0-9]{3,4})(?![0-9])"
)


def luhn_valid(digits: str) -> bool:
    """The mod-10 check over a string of ASCII digits."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_match(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group())
    return PAN_MASK if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group()


def card_data_mask(text: str) -> str:
    """``text`` with every card number and every named security code masked."""
    if not any(c.isdigit() for c in text):
        return text
    text = _PAN_CANDIDATE.sub(_mask_match, text)
    return _CVC_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{CVC_MASK}", text)


def has_card_data(text: str) -> bool:
    """Whether ``text`` holds what looks like a card number or a named security code."""
    return card_data_mask(text) != text
