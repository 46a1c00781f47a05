"""Properties of the card-number detector: every Luhn-valid 13–19 digit number is found and
masked wherever it sits in text, however its digits are grouped by single spaces or dashes
(a number starting with 0 is no card: no issuer has major industry identifier 0); masked text
holds no card number any more; text without a digit passes unchanged; nothing raises."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from payments_site.kernel.cards import card_data_mask, has_card_data, luhn_valid

EXAMPLES = settings(max_examples=300, deadline=None)
NO_DIGITS = st.text(alphabet=string.ascii_letters + ".,;:!?()[]{}/\\\"'_#@ \n", max_size=30)


def _check_digit(body: str) -> str:
    return next(d for d in string.digits if luhn_valid(body + d))


card_numbers = (
    st.integers(min_value=11, max_value=17)
    .flatmap(
        lambda n: st.tuples(
            st.sampled_from("123456789"), st.text(alphabet=string.digits, min_size=n, max_size=n)
        )
    )
    .map(lambda parts: parts[0] + parts[1])
    .map(lambda body: body + _check_digit(body))
)


@st.composite
def grouped(draw: st.DrawFn, number: str) -> str:
    out = number[0]
    for digit in number[1:]:
        out += draw(st.sampled_from(["", "", " ", "-"])) + digit
    return out


@EXAMPLES
@given(number=card_numbers, before=NO_DIGITS, after=NO_DIGITS, data=st.data())
def test_a_card_number_anywhere_in_text_is_found_and_masked(
    number: str, before: str, after: str, data: st.DataObject
) -> None:
    written = data.draw(grouped(number))
    text = f"{before}{written}{after}"

    masked = card_data_mask(text)

    assert has_card_data(text)
    assert number not in masked.replace(" ", "").replace("-", "")
    assert not has_card_data(masked)


@EXAMPLES
@given(text=st.text(max_size=200))
def test_any_text_is_judged_without_error_and_digitless_text_is_left_alone(text: str) -> None:
    masked = card_data_mask(text)

    assert isinstance(has_card_data(text), bool)
    if not any(c.isdigit() for c in text):
        assert masked == text
