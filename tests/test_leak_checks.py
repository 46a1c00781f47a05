"""The leak checks catch a card in any grouping and ignore the same digits inside random ids."""

import pytest

from tests.support.leaks import assert_no_card_number, assert_no_digits


@pytest.mark.parametrize(
    "text", ['{"note":"4242 4242 4242 4242"}', "4242-4242-4242-4242", "card 4242424242424242"]
)
def test_a_card_number_is_caught(text: str) -> None:
    with pytest.raises(AssertionError):
        assert_no_card_number(text)


@pytest.mark.parametrize("text", ['{"cvc": "98765"}', "cvc 98765 refused"])
def test_loose_digits_are_caught(text: str) -> None:
    with pytest.raises(AssertionError):
        assert_no_digits("98765", text)


def test_digits_inside_a_random_id_are_not_a_leak() -> None:
    answer = '{"request_id":"37f0ae3478224ae5a2f424243d527d9e","id":"evt_a98765f"}'

    assert_no_card_number(answer)
    assert_no_digits("98765", answer)
