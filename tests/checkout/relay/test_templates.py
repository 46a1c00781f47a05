"""Body templates: parsed before anything is revealed, filled escaped for the content type."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from checkout.relay.templates import CardValues, TemplateInvalid, template_fill, template_parse

CARD = CardValues(
    number="4242424242424242",
    exp_month=3,
    exp_year=2031,
    name='Ann "Quote" O\\Brien & Co',
    last4="4242",
    brand="visa",
)


def test_fields_are_found_and_filled_with_two_and_four_digit_expiry() -> None:
    template = template_parse(
        '{"n": "{{card.number}}", "e": "{{ card.exp_month }}/{{card.exp_year}}"}'
    )
    assert template.fields == {"number", "exp_month", "exp_year"}
    filled = template_fill(template, card=CARD, content_type="application/json")
    assert filled == b'{"n": "4242424242424242", "e": "03/2031"}'


def test_a_name_with_quotes_cannot_break_out_of_its_json_string() -> None:
    template = template_parse('{"holder": "{{card.name}}", "x": 1}')
    filled = template_fill(template, card=CARD, content_type="application/json; charset=utf-8")
    assert json.loads(filled) == {"holder": CARD.name, "x": 1}


def test_form_bodies_are_form_encoded() -> None:
    template = template_parse("holder={{card.name}}&pan={{card.number}}")
    filled = template_fill(template, card=CARD, content_type="application/x-www-form-urlencoded")
    assert parse_qs(filled.decode()) == {"holder": [CARD.name], "pan": [CARD.number]}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{{card.cvc}}", "template_placeholder_unknown"),
        ("{{ card.pan }}", "template_placeholder_unknown"),
        ("{{number}}", "template_placeholder_unknown"),
        ("{{card.number", "template_invalid"),
        ("x" * (64 * 1024 + 1), "template_invalid"),
    ],
)
def test_what_is_not_a_known_placeholder_is_refused(text: str, code: str) -> None:
    with pytest.raises(TemplateInvalid) as refused:
        template_parse(text)
    assert refused.value.code == code


def test_the_card_values_do_not_show_the_number_in_their_repr() -> None:
    assert "4242424242424242" not in repr(CARD)
