"""Card rules: normalise, check and classify what a shopper typed. Plain domain code.

No models, no I/O: the vault validates with it, the checkout page and its JavaScript mirror it
(``brand_rules_export()`` gives them the same table), and property tests feed it anything.

Every problem with every field is collected and raised at once as one ``CardValidationError``
(HTTP 422) whose ``errors`` carry the codes of ARCHITECTURE.md §4, so a form can mark all bad
fields in one round trip. Messages are short and translatable; none ever echoes the input.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext_lazy as _

from payments_site.kernel.cards import luhn_valid  # the one mod-10 check (ISO/IEC 7812-1)
from payments_site.kernel.errors import DomainError, FieldError

__all__ = [
    "BRAND_RULES",
    "Card",
    "CardErrorCode",
    "CardValidationError",
    "brand_rules_export",
    "card_brand",
    "card_expired",
    "card_expiry_end",
    "card_validate",
    "luhn_valid",
]

MIN_LENGTH = 12
MAX_LENGTH = 19
MAX_YEARS_AHEAD = 20
NAME_MAX_LENGTH = 100
_MAX_RAW_LENGTH = 64  # anything longer is not a card number with separators: refuse early


class CardErrorCode(StrEnum):
    INVALID_NUMBER = "invalid_number"
    INCORRECT_NUMBER = "incorrect_number"
    INVALID_EXPIRY_MONTH = "invalid_expiry_month"
    INVALID_EXPIRY_YEAR = "invalid_expiry_year"
    EXPIRED_CARD = "expired_card"
    INVALID_CVC = "invalid_cvc"
    MISSING_FIELD = "missing_field"
    UNSUPPORTED_BRAND = "unsupported_brand"


@dataclass(frozen=True)
class BrandRule:
    """One card brand: IIN prefix ranges (inclusive, equal-width strings), PAN lengths, CVC."""

    brand: str
    label: str
    prefixes: tuple[tuple[str, str], ...]
    lengths: tuple[int, ...]
    cvc_length: int = 3

    def prefix_match(self, digits: str) -> int:
        """Length of the longest prefix range ``digits`` falls in; 0 when none does."""
        best = 0
        for low, high in self.prefixes:
            width = len(low)
            if len(digits) >= width and low <= digits[:width] <= high:
                best = max(best, width)
        return best


# The most specific (longest) matching prefix wins, so 6011 is Discover and 62 is UnionPay.
BRAND_RULES: tuple[BrandRule, ...] = (
    BrandRule("visa", "Visa", (("4", "4"),), (13, 16, 19)),
    BrandRule("mastercard", "Mastercard", (("51", "55"), ("2221", "2720")), (16,)),
    BrandRule("amex", "American Express", (("34", "34"), ("37", "37")), (15,), cvc_length=4),
    BrandRule(
        "discover", "Discover", (("6011", "6011"), ("644", "649"), ("65", "65")), (16, 17, 18, 19)
    ),
    BrandRule(
        "diners",
        "Diners Club",
        (("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")),
        (14, 15, 16, 17, 18, 19),
    ),
    BrandRule("jcb", "JCB", (("3528", "3589"),), (16, 17, 18, 19)),
    BrandRule("unionpay", "UnionPay", (("62", "62"), ("81", "81")), (16, 17, 18, 19)),
    BrandRule(
        "maestro",
        "Maestro",
        (("50", "50"), ("56", "58"), ("6304", "6304"), ("639", "639"), ("67", "67")),
        tuple(range(12, 20)),
    ),
)
BRANDS = {rule.brand: rule for rule in BRAND_RULES}

_SEPARATORS = re.compile(r"[ \-]")
_DIGITS = re.compile(r"[0-9]+")

MESSAGES: dict[str, Any] = {
    "number_missing": _("Enter your card number."),
    "number_invalid": _("Your card number is invalid."),
    "number_incomplete": _("Your card number is incomplete."),
    "number_too_long": _("Your card number is too long."),
    "number_incorrect": _("Your card number is incorrect."),
    "brand_unsupported": _("This type of card is not accepted."),
    "month_missing": _("Enter your card's expiration month."),
    "month_invalid": _("Your card's expiration month is invalid."),
    "year_missing": _("Enter your card's expiration year."),
    "year_invalid": _("Your card's expiration year is invalid."),
    "expired": _("Your card has expired."),
    "cvc_missing": _("Enter your card's security code."),
    "cvc_incomplete": _("Your card's security code is incomplete."),
    "cvc_invalid": _("Your card's security code is invalid."),
}


class CardValidationError(DomainError):
    """One or more card fields are wrong; ``errors`` lists every one of them."""

    code = "invalid_card"

    def __init__(self, errors: list[FieldError]) -> None:
        detail = errors[0].message if len(errors) == 1 else _("Some card details are not valid.")
        super().__init__(str(detail), errors=errors)

    @property
    def codes(self) -> dict[str, str]:
        """``{field: code}``: handy for tests and for the form."""
        return {error.field: error.code for error in self.errors}


@dataclass(frozen=True)
class Card:
    """A validated card. Lives only in memory: never logged, never stored as is.

    ``repr`` shows brand and last four only, so a stray log line or traceback leaks nothing.
    """

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    brand: str
    cvc: str | None = field(default=None, repr=False)
    name: str | None = field(default=None, repr=False)

    @property
    def last4(self) -> str:
        return self.number[-4:]

    def __repr__(self) -> str:
        expiry = f"{self.exp_month:02d}/{self.exp_year}"
        return f"Card(brand={self.brand!r}, last4={self.last4!r}, exp={expiry})"

    __str__ = __repr__


def normalize_number(number: object) -> str | None:
    """Digits of ``number`` with spaces and dashes removed; None if anything else is in it."""
    if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
        number = str(number)
    if not isinstance(number, str) or len(number) > _MAX_RAW_LENGTH:
        return None
    digits = _SEPARATORS.sub("", number.strip())
    if not digits.isascii() or not _DIGITS.fullmatch(digits):
        return None
    return digits


def card_brand(number: object) -> str | None:
    """The brand whose IIN range ``number`` falls in (by its prefix alone), or None."""
    digits = normalize_number(number)
    if not digits:
        return None
    best, brand = 0, None
    for rule in BRAND_RULES:
        width = rule.prefix_match(digits)
        if width > best:
            best, brand = width, rule.brand
    return brand


def card_expired(*, exp_month: int, exp_year: int, today: dt.date | None = None) -> bool:
    """A card is valid through the last day of its expiry month (UTC)."""
    today = today or dt.datetime.now(dt.UTC).date()
    return (exp_year, exp_month) < (today.year, today.month)


def card_expiry_end(*, exp_month: int, exp_year: int) -> dt.datetime:
    """The first instant (UTC) at which a card with this expiry is no longer valid."""
    if exp_month == 12:
        return dt.datetime(exp_year + 1, 1, 1, tzinfo=dt.UTC)
    return dt.datetime(exp_year, exp_month + 1, 1, tzinfo=dt.UTC)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _as_int(value: object, max_digits: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= max_digits:
            return int(text)
    return None


def _check_number(number: object, errors: list[FieldError]) -> tuple[str, BrandRule] | None:
    def fail(code: CardErrorCode, key: str) -> None:
        errors.append(FieldError("number", code, MESSAGES[key]))

    if _missing(number):
        fail(CardErrorCode.MISSING_FIELD, "number_missing")
        return None
    digits = normalize_number(number)
    if digits is None:
        fail(CardErrorCode.INVALID_NUMBER, "number_invalid")
        return None
    if len(digits) < MIN_LENGTH:
        fail(CardErrorCode.INVALID_NUMBER, "number_incomplete")
        return None
    if len(digits) > MAX_LENGTH:
        fail(CardErrorCode.INVALID_NUMBER, "number_too_long")
        return None
    brand = card_brand(digits)
    if brand is None:
        fail(CardErrorCode.UNSUPPORTED_BRAND, "brand_unsupported")
        return None
    rule = BRANDS[brand]
    if len(digits) not in rule.lengths:
        too_short = len(digits) < max(rule.lengths)
        fail(CardErrorCode.INVALID_NUMBER, "number_incomplete" if too_short else "number_too_long")
        return None
    if not luhn_valid(digits):
        fail(CardErrorCode.INCORRECT_NUMBER, "number_incorrect")
        return None
    return digits, rule


def _check_expiry(
    exp_month: object, exp_year: object, today: dt.date, errors: list[FieldError]
) -> tuple[int, int] | None:
    month = year = None
    if _missing(exp_month):
        errors.append(
            FieldError("exp_month", CardErrorCode.MISSING_FIELD, MESSAGES["month_missing"])
        )
    else:
        month = _as_int(exp_month, 2)
        if month is None or not 1 <= month <= 12:
            month = None
            errors.append(
                FieldError(
                    "exp_month", CardErrorCode.INVALID_EXPIRY_MONTH, MESSAGES["month_invalid"]
                )
            )
    if _missing(exp_year):
        errors.append(FieldError("exp_year", CardErrorCode.MISSING_FIELD, MESSAGES["year_missing"]))
    else:
        year = _as_int(exp_year, 4)
        if year is not None and year < 100:
            year += 2000  # "30" on the card means 2030
        if year is None or year < 2000 or year > today.year + MAX_YEARS_AHEAD:
            year = None
            errors.append(
                FieldError("exp_year", CardErrorCode.INVALID_EXPIRY_YEAR, MESSAGES["year_invalid"])
            )
    if year is not None and year < today.year:
        errors.append(FieldError("exp_year", CardErrorCode.EXPIRED_CARD, MESSAGES["expired"]))
        return None
    if month is None or year is None:
        return None
    if card_expired(exp_month=month, exp_year=year, today=today):
        errors.append(FieldError("exp_month", CardErrorCode.EXPIRED_CARD, MESSAGES["expired"]))
        return None
    return month, year


def _check_cvc(
    cvc: object, rule: BrandRule | None, required: bool, errors: list[FieldError]
) -> str | None:
    if _missing(cvc):
        if required:
            errors.append(FieldError("cvc", CardErrorCode.MISSING_FIELD, MESSAGES["cvc_missing"]))
        return None
    text = cvc.strip() if isinstance(cvc, str) else None
    if text is None or not text.isascii() or not text.isdigit():
        errors.append(FieldError("cvc", CardErrorCode.INVALID_CVC, MESSAGES["cvc_invalid"]))
        return None
    allowed = (rule.cvc_length,) if rule else (3, 4)
    if len(text) not in allowed:
        key = "cvc_incomplete" if len(text) < max(allowed) else "cvc_invalid"
        errors.append(FieldError("cvc", CardErrorCode.INVALID_CVC, MESSAGES[key]))
        return None
    return text


def _clean_name(name: object) -> str | None:
    """Printable, single-spaced, at most ``NAME_MAX_LENGTH`` characters; None when empty."""
    if not isinstance(name, str):
        return None
    printable = "".join(
        " " if unicodedata.category(c).startswith(("C", "Z")) else c for c in name[:1000]
    )
    cleaned = " ".join(printable.split())[:NAME_MAX_LENGTH]
    return cleaned or None


def card_validate(
    *,
    number: object,
    exp_month: object,
    exp_year: object,
    cvc: object = None,
    name: object = None,
    require_cvc: bool = True,
    today: dt.date | None = None,
) -> Card:
    """Check every field and return a normalised ``Card``, or raise ``CardValidationError``
    listing all the problems. Accepts whatever a JSON body may hold: anything unexpected is a
    field error, never another exception."""
    today = today or dt.datetime.now(dt.UTC).date()
    errors: list[FieldError] = []
    checked = _check_number(number, errors)
    rule = checked[1] if checked else None
    expiry = _check_expiry(exp_month, exp_year, today, errors)
    clean_cvc = _check_cvc(cvc, rule, require_cvc, errors)
    if errors or checked is None or expiry is None:
        raise CardValidationError(errors)
    digits, rule = checked
    return Card(
        number=digits,
        exp_month=expiry[0],
        exp_year=expiry[1],
        brand=rule.brand,
        cvc=clean_cvc,
        name=_clean_name(name),
    )


def brand_rules_export() -> dict[str, Any]:
    """The rules as JSON-ready data for the checkout page's JavaScript (same table, no drift)."""
    return {
        "min_length": MIN_LENGTH,
        "max_length": MAX_LENGTH,
        "max_years_ahead": MAX_YEARS_AHEAD,
        "brands": [
            {
                "brand": rule.brand,
                "label": rule.label,
                "prefixes": [list(pair) for pair in rule.prefixes],
                "lengths": list(rule.lengths),
                "cvc_length": rule.cvc_length,
            }
            for rule in BRAND_RULES
        ],
        "messages": {key: str(message) for key, message in MESSAGES.items()},
    }
