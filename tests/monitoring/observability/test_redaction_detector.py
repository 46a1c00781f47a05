"""The log redaction is the input detector: every way of writing a card number is masked in
logs, and long decimal fractions (durations) are not."""

from __future__ import annotations

import logging

import pytest

from monitoring.observability.redaction import redact, redact_text
from payments_site.kernel.cards import PAN_MASK, has_card_data
from tests.payments_site.kernel.test_cards import SEPARATORS

GROUPS = ["4000", "0566", "5566", "5556"]


@pytest.mark.parametrize("separator", SEPARATORS.values(), ids=list(SEPARATORS))
def test_whatever_the_input_guard_refuses_the_redaction_masks(separator: str) -> None:
    text = f"charge for {separator.join(GROUPS)} declined"

    assert has_card_data(text)
    assert redact_text(text) == f"charge for {PAN_MASK} declined"


def test_durations_are_logged_as_they_are() -> None:
    event = {"event": "request_finished", "message": "took 0.123456789012345s", "t": 0.1234}

    assert redact(event) == event


def test_a_log_line_with_a_full_width_card_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    from monitoring.observability.logs import json_formatter

    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "card %s took %ss",
        ("４２４２ ４２４２ ４２４２ ４２４２", 0.123456789012345),
        None,
    )
    line = json_formatter().format(record)

    assert "４２４２" not in line
    assert PAN_MASK in line
    assert "0.123456789012345" in line
