"""Card rules: the public test cards, every error code, and fuzzing with hypothesis."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments_site.problems import problem_of
from tests.cards import load_cards
from vault.cards import (
    BRAND_RULES,
    Card,
    CardValidationError,
    brand_rules_export,
    card_brand,
    card_expired,
    card_expiry_end,
    card_validate,
    luhn_valid,
)

CARDS = load_cards()
TODAY = dt.date(2026, 3, 15)
GOOD: dict[str, Any] = {"exp_month": 12, "exp_year": 2030, "cvc": "123"}


def _codes(**fields: object) -> dict[str, str]:
    with pytest.raises(CardValidationError) as raised:
        card_validate(**{**GOOD, **fields}, today=TODAY)
    assert problem_of(raised.value).status == 422
    return raised.value.codes


@pytest.mark.parametrize("card", CARDS["approve"], ids=lambda c: c["number"][-4:] + c["brand"])
def test_every_public_test_card_validates_with_its_brand(card: dict[str, str]) -> None:
    cvc = "1234" if card.get("cvc_length") == 4 else "123"

    result = card_validate(number=card["number"], **{**GOOD, "cvc": cvc}, today=TODAY)

    assert result.brand == card["brand"] == card_brand(card["number"])
    assert result.number == card["number"]
    assert result.last4 == card["number"][-4:]


@pytest.mark.parametrize("card", CARDS["decline"], ids=lambda c: c["failure_code"])
def test_decline_cards_are_valid_cards(card: dict[str, str]) -> None:
    assert card_validate(number=card["number"], **GOOD, today=TODAY).brand == "visa"


@pytest.mark.parametrize("card", CARDS["invalid"], ids=lambda c: c["error_code"] + c["number"])
def test_invalid_test_cards_carry_their_error_code(card: dict[str, str]) -> None:
    assert _codes(number=card["number"]) == {"number": card["error_code"]}


def test_spaces_and_dashes_are_normalised() -> None:
    card = card_validate(number=" 4242 4242-4242 4242 ", **GOOD, today=TODAY)

    assert card.number == "4242424242424242"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("4242 4242 4242 424٢", "invalid_number"),  # a non-ASCII digit
        ("4242.4242.4242.4242", "invalid_number"),
        ("42424242424", "invalid_number"),  # 11 digits
        ("4" + "0" * 19, "invalid_number"),  # 20 digits
        ("424242424242424", "invalid_number"),  # visa has no 15-digit numbers
        ("37828224631000", "invalid_number"),  # amex is 15 digits
        ("9999999999999995", "unsupported_brand"),
        ("1234567812345670", "unsupported_brand"),
        ("5555555555554443", "incorrect_number"),
        ("x" * 10_000, "invalid_number"),
        (None, "missing_field"),
        ("   ", "missing_field"),
        (["4242424242424242"], "invalid_number"),
    ],
)
def test_number_errors(number: object, code: str) -> None:
    assert _codes(number=number) == {"number": code}


@pytest.mark.parametrize(
    ("prefix", "brand"),
    [
        ("2221", "mastercard"),
        ("2720", "mastercard"),
        ("2220", None),
        ("2721", None),
        ("51", "mastercard"),
        ("56", "maestro"),
        ("6011", "discover"),
        ("65", "discover"),
        ("62", "unionpay"),
        ("3528", "jcb"),
        ("3527", None),
        ("300", "diners"),
        ("36", "diners"),
        ("34", "amex"),
        ("4", "visa"),
    ],
)
def test_brand_by_prefix(prefix: str, brand: str | None) -> None:
    assert card_brand(prefix + "0" * (16 - len(prefix))) == brand


def test_amex_needs_a_four_digit_cvc_and_others_three() -> None:
    amex = "378282246310005"

    assert card_validate(number=amex, **{**GOOD, "cvc": "1234"}, today=TODAY).cvc == "1234"
    assert _codes(number=amex, cvc="123") == {"cvc": "invalid_cvc"}
    assert _codes(number="4242424242424242", cvc="1234") == {"cvc": "invalid_cvc"}
    assert _codes(number="4242424242424242", cvc="12") == {"cvc": "invalid_cvc"}
    assert _codes(number="4242424242424242", cvc="12a") == {"cvc": "invalid_cvc"}
    assert _codes(number="4242424242424242", cvc=123) == {"cvc": "invalid_cvc"}
    assert _codes(number="4242424242424242", cvc="") == {"cvc": "missing_field"}


def test_cvc_may_be_optional_for_stored_cards() -> None:
    card = card_validate(
        number="4242424242424242", exp_month=1, exp_year=2027, require_cvc=False, today=TODAY
    )

    assert card.cvc is None


@pytest.mark.parametrize(
    ("month", "year", "errors"),
    [
        (3, 2026, {}),  # valid through the end of its month
        ("03", "26", {}),  # strings and a two-digit year
        (2, 2026, {"exp_month": "expired_card"}),
        (12, 2025, {"exp_year": "expired_card"}),
        (12, 2046, {}),  # 20 years ahead
        (1, 2047, {"exp_year": "invalid_expiry_year"}),
        (13, 2030, {"exp_month": "invalid_expiry_month"}),
        (0, 2030, {"exp_month": "invalid_expiry_month"}),
        (True, 2030, {"exp_month": "invalid_expiry_month"}),
        (12.0, 2030, {"exp_month": "invalid_expiry_month"}),
        (12, "20x0", {"exp_year": "invalid_expiry_year"}),
        (12, 1999, {"exp_year": "invalid_expiry_year"}),
        (None, None, {"exp_month": "missing_field", "exp_year": "missing_field"}),
    ],
)
def test_expiry_rules(month: object, year: object, errors: dict[str, str]) -> None:
    if errors:
        assert _codes(number="4242424242424242", exp_month=month, exp_year=year) == errors
    else:
        card = card_validate(
            number="4242424242424242", exp_month=month, exp_year=year, cvc="123", today=TODAY
        )
        assert (card.exp_month, card.exp_year) == (int(str(month)), 2000 + int(str(year)[-2:]))


def test_expiry_helpers() -> None:
    assert card_expired(exp_month=2, exp_year=2026, today=TODAY) is True
    assert card_expired(exp_month=3, exp_year=2026, today=TODAY) is False
    assert card_expiry_end(exp_month=12, exp_year=2030) == dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    assert card_expiry_end(exp_month=3, exp_year=2026) == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def test_every_error_is_reported_at_once_with_short_messages() -> None:
    with pytest.raises(CardValidationError) as raised:
        card_validate(number="4242424242424241", exp_month=13, exp_year=2020, cvc="", today=TODAY)

    error = raised.value
    assert error.codes == {
        "number": "incorrect_number",
        "exp_month": "invalid_expiry_month",
        "exp_year": "expired_card",
        "cvc": "missing_field",
    }
    assert [str(e.message) for e in error.errors] == [
        "Your card number is incorrect.",
        "Your card's expiration month is invalid.",
        "Your card has expired.",
        "Enter your card's security code.",
    ]
    assert error.message == "Some card details are not valid."
    assert "4242" not in str(error) + repr(error.errors)


def test_incomplete_number_message() -> None:
    with pytest.raises(CardValidationError) as raised:
        card_validate(number="4242 4242", **GOOD, today=TODAY)

    assert raised.value.message == "Your card number is incomplete."


def test_card_repr_never_shows_the_number_or_cvc() -> None:
    card = card_validate(number="4242424242424242", **GOOD, name="Jo Doe", today=TODAY)

    for text in (repr(card), str(card), f"{card}"):
        assert "424242424242" not in text
        assert "123" not in text
        assert "4242" in text


def test_name_is_cleaned_and_bounded() -> None:
    card = card_validate(
        number="4242424242424242", **GOOD, name="  Jo\t\x00 Doe\u200b" + "x" * 500, today=TODAY
    )

    assert card.name is not None
    assert card.name.startswith("Jo Doe")
    assert len(card.name) == 100
    assert card_validate(number="4242424242424242", **GOOD, name=42, today=TODAY).name is None


def test_rules_export_is_json_and_mirrors_the_table() -> None:
    exported = json.loads(json.dumps(brand_rules_export()))

    assert [b["brand"] for b in exported["brands"]] == [r.brand for r in BRAND_RULES]
    amex = next(b for b in exported["brands"] if b["brand"] == "amex")
    assert amex == {
        "brand": "amex",
        "label": "American Express",
        "prefixes": [["34", "34"], ["37", "37"]],
        "lengths": [15],
        "cvc_length": 4,
    }
    assert exported["messages"]["number_incomplete"] == "Your card number is incomplete."


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


_ANYTHING = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.text(alphabet="0123456789 -", max_size=25),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.binary(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(number=_ANYTHING, month=_ANYTHING, year=_ANYTHING, cvc=_ANYTHING, name=_ANYTHING)
def test_never_raises_anything_but_its_own_error(
    number: object, month: object, year: object, cvc: object, name: object
) -> None:
    try:
        card = card_validate(number=number, exp_month=month, exp_year=year, cvc=cvc, name=name)
    except CardValidationError as error:
        codes = {e.code for e in error.errors}
        assert codes
        assert codes <= {
            "invalid_number",
            "incorrect_number",
            "invalid_expiry_month",
            "invalid_expiry_year",
            "expired_card",
            "invalid_cvc",
            "missing_field",
            "unsupported_brand",
        }
    else:
        assert isinstance(card, Card)
        assert luhn_valid(card.number)


@settings(max_examples=200, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=12, max_size=19))
def test_any_luhn_valid_number_of_a_known_brand_and_length_is_accepted(digits: str) -> None:
    # complete the check digit so the number passes Luhn
    body = digits[:-1]
    check = next(d for d in "0123456789" if luhn_valid(body + d))
    number = body + check
    brand = card_brand(number)
    rule = next((r for r in BRAND_RULES if r.brand == brand), None)

    if rule is None or len(number) not in rule.lengths:
        assert _codes(number=number, cvc="1234" if brand == "amex" else "123")
    else:
        cvc = "1" * rule.cvc_length
        assert card_validate(number=number, **{**GOOD, "cvc": cvc}, today=TODAY).brand == brand
