"""The one card-number detector: whatever separates the digits, whatever script or width
they are written in, a Luhn-valid 13–19 digit number is found; decimal fractions are not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments_site.kernel.cards import PAN_MASK, _clean_at_a_glance, card_data_mask, has_card_data

PAN = "4242424242424242"
GROUPS = ["4242", "4242", "4242", "4242"]

SEPARATORS = {
    "none": "",
    "space": " ",
    "dash": "-",
    "dot": ".",
    "slash": "/",
    "underscore": "_",
    "comma": ",",
    "three spaces": "   ",
    "en dash": "\u2013",
    "no-break space": "\u00a0",
    "narrow no-break space": "\u202f",
    "ideographic space": "\u3000",
    "comma and space": ", ",
    "tab": "\t",
}


@pytest.mark.parametrize("separator", SEPARATORS.values(), ids=list(SEPARATORS))
def test_a_card_number_is_found_whatever_separates_its_digits(separator: str) -> None:
    text = f"ref {separator.join(GROUPS)} thanks"

    assert has_card_data(text)
    assert card_data_mask(text) == f"ref {PAN_MASK} thanks"


@pytest.mark.parametrize(
    "written",
    [
        "４２４２４２４２４２４２４２４２",  # full-width
        "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢",  # Arabic-Indic
        "४२४२ ४२४२ ४२४२ ४२४२",  # Devanagari
        "４２４２－４２４２－４２４２－４２４２",  # full-width digits and hyphen-minus
    ],
)
def test_digits_of_any_width_or_script_count(written: str) -> None:
    assert has_card_data(written)
    assert card_data_mask(f"a {written} b") == f"a {PAN_MASK} b"


def _luhn_number(length: int) -> str:
    body = "4" + "0" * (length - 2)
    return next(body + d for d in "0123456789" if has_card_data(body + d))


@pytest.mark.parametrize("length", range(13, 20))
def test_each_length_from_13_to_19(length: int) -> None:
    number = _luhn_number(length)

    assert len(number) == length
    assert card_data_mask(f"x {number} y") == f"x {PAN_MASK} y"


@pytest.mark.parametrize(
    "text",
    [
        "0.123456789012345s",  # a duration
        "took 0.123456789012345 s",
        "1700000000.123456",  # a timestamp with microseconds
        "12,3456789012345",  # a decimal comma
        "4242424242424241",  # Luhn-invalid
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits: no card
        "order 2026-12-02 12:30:45",
        "198.51.100.1",
        "tok_0000000000000000",  # Luhn-valid, but no card starts with 0
        "0424242424242424",
        "tok_4242abc",
        "",
    ],
)
def test_what_is_not_a_card_number_is_left_alone(text: str) -> None:
    assert not has_card_data(text)
    assert card_data_mask(text) == text


def test_a_card_next_to_a_decimal_is_still_found() -> None:
    text = "took 1.5 s, card 4242 4242 4242 4242"

    assert card_data_mask(text) == f"took 1.5 s, card {PAN_MASK}"


def test_a_card_inside_other_digit_groups_is_found() -> None:
    assert card_data_mask("id 12-4242-4242-4242-4242") == f"id 12-{PAN_MASK}"


def test_named_security_codes_are_masked_in_any_width() -> None:
    assert card_data_mask("cvc 123") == "cvc [REDACTED]"
    assert card_data_mask("cvc １２３") == "cvc [REDACTED]"
    assert has_card_data('"cvv": "1234"')
    assert card_data_mask("CVV2=1234, next") == "CVV2=[REDACTED], next"


@pytest.mark.parametrize(
    "text", ["csc 1234abcd", "cvn=1234f00d", "cvc 123x", "security code: 1234567", "cvv 12"]
)
def test_digits_that_run_on_into_a_word_are_no_security_code(text: str) -> None:
    assert not has_card_data(text)
    assert card_data_mask(text) == text


def test_masking_keeps_the_text_around_non_ascii_digits() -> None:
    text = "Bestellung ４２４２ ４２４２ ４２４２ ４２４２ – danke"

    assert card_data_mask(text) == f"Bestellung {PAN_MASK} – danke"


_TEXT = st.lists(
    st.sampled_from(
        [
            "4242",
            "4",
            "0",
            "1",
            "23",
            " ",
            "   ",
            "-",
            ".",
            "_",
            "x",
            "T",
            "cvc",
            "CVV2",
            ":",
            "=",
            "é",
            "٣",
        ]
    )
).map("".join)


@given(_TEXT)
def test_text_passed_at_a_glance_holds_no_card_data(text: str) -> None:
    from payments_site.kernel.cards import _spans

    if _clean_at_a_glance(text):
        assert not _spans(text)[1]


def test_the_glance_passes_ids_and_stops_at_what_may_be_card_data() -> None:
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    clean = ["ch_3xq9ZbL0kq2rT8yWcN4vQa", "4242", "2030-01-31T10:00:00.123456Z", digest, "cvc"]
    for text in [*clean, "١٢", "4242 4242x4242 4242", "4242    4242 4242 4242"]:
        assert _clean_at_a_glance(text), text
    suspects = ["4242424242424", "4242 4242 4242 4242", "4242___4242...4242-4242", "cvc 123"]
    for text in [*suspects, "x security 999", "١٢٣"]:
        assert not _clean_at_a_glance(text), text
