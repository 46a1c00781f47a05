from __future__ import annotations

import pytest

from checkout.currencies import (
    CURRENCY_CODES,
    amount_format,
    currency_minor_units,
    currency_normalize,
)
from payments_site.kernel.errors import InvalidInput


@pytest.mark.parametrize(
    ("code", "digits"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("CLP", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("TND", 3),
    ],
)
def test_minor_units_follow_iso_4217(code: str, digits: int) -> None:
    assert currency_minor_units(code) == digits


def test_lowercase_codes_are_normalised() -> None:
    assert currency_normalize("eur") == "EUR"
    assert currency_normalize(" usd ") == "USD"


@pytest.mark.parametrize("code", ["", "EU", "EURO", "XXX", "XAU", "CLF", "HRK", "123", "€"])
def test_unknown_fund_metal_and_withdrawn_codes_are_refused(code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        currency_normalize(code)

    assert raised.value.errors[0].field == "currency"
    assert raised.value.errors[0].code == "invalid_currency"


def test_every_code_is_three_uppercase_letters() -> None:
    assert len(CURRENCY_CODES) > 150
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in CURRENCY_CODES)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1050, "EUR", "€10.50"),
        (5, "USD", "$0.05"),
        (500, "JPY", "¥500"),
        (1, "KWD", "KWD0.001"),
        (123456789, "USD", "$1,234,567.89"),
    ],
)
def test_amount_format_places_the_decimal_point_per_currency(
    amount: int, currency: str, text: str
) -> None:
    assert amount_format(amount=amount, currency=currency, locale="en") == text


@pytest.mark.parametrize(
    ("locale", "text"),
    [("fr", "1 234,56 €"), ("de", "1.234,56 €"), ("en-gb", "€1,234.56")],
)
def test_amount_format_follows_the_locale(locale: str, text: str) -> None:
    formatted = amount_format(amount=123456, currency="EUR", locale=locale)

    assert (
        formatted.replace("\N{NARROW NO-BREAK SPACE}", " ").replace("\N{NO-BREAK SPACE}", " ")
        == text
    )


def test_amount_format_uses_iso_4217_decimals_not_cldr() -> None:
    # CLDR gives the Iraqi dinar no decimals; ISO 4217 (our minor unit) gives it three.
    assert amount_format(amount=1500, currency="IQD", locale="en").endswith("1.500")
