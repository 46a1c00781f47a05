"""Leak checks that random ids in an answer cannot trip.

Request ids, object ids and CSRF tokens are random, so any four digits such as ``4242`` turn up
in them now and then; eight digits of a card number, grouped or not, never do in practice.
"""

import re

_CARD_DIGITS = re.compile(r"4242[\s-]?4242")


def assert_no_card_number(text: str) -> None:
    """Fail when ``text`` carries the test card's digits in any grouping."""
    found = _CARD_DIGITS.search(text)
    assert found is None, f"card digits at {found.start()}"


def assert_no_digits(digits: str, text: str) -> None:
    """Fail when ``digits`` stand on their own in ``text``, not inside a random hex or base64 id."""
    found = re.search(rf"(?<![0-9A-Za-z]){re.escape(digits)}(?![0-9A-Za-z])", text)
    assert found is None, f"{digits!r} at {found.start()}"
