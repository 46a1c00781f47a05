"""The card-number detector: the one place that decides what looks like card data in text.

Text is first normalised (NFKC, then every Unicode decimal digit to ASCII), so full-width or
other-script digits and look-alike spaces and dashes count as what they mean. A card number
is then 13–19 digits passing the mod-10 check (ISO/IEC 7812-1), written in groups separated
by anything that is neither a letter nor a digit — spaces (any number, up to three),
dashes, en dashes, dots, slashes, underscores, commas, no-break spaces. A plain decimal
number (``0.123456789012345``, ``12,5``: two groups joined by one ``.`` or ``,``) is a number,
not a card, and neither is a number starting with 0 (no card scheme holds major industry
identifier 0: ``tok_`` and sixteen zeros is an id). A security code is three or four digits
right after its name ("cvc 123", ``"cvv": "1234"``).

Input validation refuses text that contains either (``has_card_data``) and the log redaction
masks them (``card_data_mask``), from the same spans, so the two can never disagree. Both are
pure functions of the text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

PAN_MASK = "[REDACTED-PAN]"
CVC_MASK = "[REDACTED]"
MIN_DIGITS, MAX_DIGITS = 13, 19

# Digit groups joined by up to three characters that are neither letters nor digits.
_GROUPS = re.compile(r"[0-9]+(?:[\W_]{1,3}[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
_DECIMAL_POINT = frozenset({".", ","})

# A card security code named in free text: "cvc 123", "CVV2=1234", '"cvc": "123"'. A bare
# three-digit number cannot be told from any other, but one right after its name can. The
# code ends where a word would: "csc 1234abcd" is the start of a hex id, not a code.
_CVC_IN_TEXT = re.compile(
    r"(?i)(?<![a-z0-9])(cvc2?|cvv2?|cvn|csc|security[ _-]?code)([\"' :=]{1,4})([0-9]{3,4})"
    r"(?![0-9a-z])"
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


@dataclass(frozen=True)
class _Normalised:
    """NFKC text with ASCII digits, and for each of its characters the index of the original
    character it came from (so a span found here masks the right part of the original)."""

    text: str
    origin: list[int]


def _normalise(text: str) -> _Normalised:
    if text.isascii():
        return _Normalised(text, list(range(len(text))))
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for out in unicodedata.normalize("NFKC", char):
            digit = unicodedata.decimal(out, None)
            chars.append(str(digit) if digit is not None else out)
            origin.append(index)
    return _Normalised("".join(chars), origin)


def _pan_spans(text: str) -> list[tuple[int, int]]:
    """Spans of ``text`` (normalised) holding a card number."""
    spans: list[tuple[int, int]] = []
    for candidate in _GROUPS.finditer(text):
        if candidate.end() - candidate.start() < MIN_DIGITS:
            continue  # too short to hold a card number's digits, separators aside
        groups = [
            (m.start() + candidate.start(), m.end() + candidate.start())
            for m in _GROUP.finditer(candidate.group())
        ]
        decimal = (
            {0, 1}
            if (len(groups) == 2 and text[groups[0][1] : groups[1][0]] in _DECIMAL_POINT)
            else set()
        )
        start_at = 0
        while start_at < len(groups):
            found = _card_run(text, groups, start_at, decimal)
            if found is None:
                start_at += 1
                continue
            spans.append((groups[start_at][0], groups[found][1]))
            start_at = found + 1
    return spans


def _card_run(
    text: str, groups: list[tuple[int, int]], first: int, excluded: set[int]
) -> int | None:
    """The last group of a card number starting at group ``first``, if there is one."""
    if text[groups[first][0]] == "0":
        return None  # major industry identifier 0 is issued to no card scheme (ISO/IEC 7812-1)
    digits = ""
    for index in range(first, len(groups)):
        if index in excluded:
            return None
        start, end = groups[index]
        digits += text[start:end]
        if len(digits) > MAX_DIGITS:
            return None
        if len(digits) >= MIN_DIGITS and luhn_valid(digits):
            return index
    return None


def _spans(text: str) -> tuple[_Normalised, list[tuple[int, int, str]]]:
    normal = _normalise(text)
    found = [(start, end, PAN_MASK) for start, end in _pan_spans(normal.text)]
    for match in _CVC_IN_TEXT.finditer(normal.text):
        if not any(s <= match.start(3) < e for s, e, _ in found):
            found.append((match.start(3), match.end(3), CVC_MASK))
    return normal, sorted(found)


# At a glance, for ASCII text: a card number needs 13 digits in one run of groups (each digit
# at most three separators from the next, as in ``_GROUPS``: a letter ends the run, so
# timestamps and hex digests pass), a security code 3 digits and its name.
_THREE_DIGITS = re.compile(r"[0-9](?:[^0-9]*[0-9]){2}")
_THIRTEEN_DIGITS = re.compile(rf"[0-9](?:[\W_]{{0,3}}[0-9]){{{MIN_DIGITS - 1}}}")
_CVC_NAME = re.compile(r"(?i)cvc|cvv|cvn|csc|security")


def _clean_at_a_glance(text: str) -> bool:
    """Whether ``text`` surely holds no card data, decided without the scan: most text (ids,
    codes, names, amounts) is, in one or two searches in C."""
    if text.isascii():
        if _THIRTEEN_DIGITS.search(text) is not None:
            return False
        return _THREE_DIGITS.search(text) is None or _CVC_NAME.search(text) is None
    return sum(c.isdigit() for c in text) < 3


def card_data_mask(text: str) -> str:
    """``text`` with every card number and every named security code masked."""
    if _clean_at_a_glance(text):
        return text
    normal, spans = _spans(text)
    if not spans:
        return text
    out: list[str] = []
    cursor = 0
    for start, end, mask in spans:
        first, last = normal.origin[start], normal.origin[end - 1] + 1
        out.append(text[cursor:first])
        out.append(mask)
        cursor = last
    out.append(text[cursor:])
    return "".join(out)


def has_card_data(text: str) -> bool:
    """Whether ``text`` holds what looks like a card number or a named security code."""
    if _clean_at_a_glance(text):
        return False
    return bool(_spans(text)[1])


CARD_DATA_MESSAGE = "Card numbers are not allowed here. Use a token."


def card_data_in(value: object) -> bool:
    """Whether a parsed value (text, a number, or lists and objects of them, keys included)
    holds card data anywhere."""
    if isinstance(value, str):
        return has_card_data(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return has_card_data(str(value))
    if isinstance(value, dict):
        return any(card_data_in(k) or card_data_in(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(card_data_in(item) for item in value)
    return False


def card_data_field(fields: object, *, whole: str = "body") -> str | None:
    """The name of the first top-level field holding card data, or ``None``. A name that is
    itself card data is never echoed: ``whole`` stands for it."""
    if not isinstance(fields, dict):
        return whole if card_data_in(fields) else None
    for name, value in fields.items():
        if card_data_in(name):
            return whole
        if card_data_in(value):
            return str(name)
    return None
