"""No PAN or CVC reaches log output, whichever way it enters a record."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest
import structlog

from monitoring.observability.logs import json_formatter
from monitoring.observability.redaction import redact, redact_text
from payments_site.kernel.cards import luhn_valid
from tests.cards import load_cards
from tests.support.servers import ROOT

PAN = "4242424242424242"
FORMATS = [PAN, "4242 4242 4242 4242", "4242-4242-4242-4242", "378282246310005"]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """The configured JSON formatter on a buffer attached to the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize("pan", FORMATS)
def test_pan_in_message_is_masked(log_output: io.StringIO, pan: str) -> None:
    logging.getLogger("tests").warning(f"card {pan} declined")

    out = log_output.getvalue()
    assert pan not in out
    assert _records(log_output)[-1]["event"] == "card [REDACTED-PAN] declined"


def test_pan_in_format_arguments_is_masked(log_output: io.StringIO) -> None:
    logging.getLogger("tests").warning("card %s declined for %s", PAN, "Ada")

    assert PAN not in log_output.getvalue()
    assert _records(log_output)[-1]["event"] == "card [REDACTED-PAN] declined for Ada"


def test_pan_and_cvc_in_extra_are_masked(log_output: io.StringIO) -> None:
    logging.getLogger("tests").warning(
        "charge", extra={"note": f"pan={PAN}", "cvc": "123", "card": {"exp_year": 2030}}
    )

    record = _records(log_output)[-1]
    assert PAN not in log_output.getvalue()
    assert record["note"] == "pan=[REDACTED-PAN]"
    assert record["cvc"] == "[REDACTED]"
    assert record["card"] == "[REDACTED]"


def test_pan_inside_exception_traceback_is_masked(log_output: io.StringIO) -> None:
    def fail(number: str) -> None:
        raise ValueError(f"processor rejected {number}")

    try:
        fail("4242 4242 4242 4242")
    except ValueError:
        logging.getLogger("tests").exception("processor error")

    out = log_output.getvalue()
    record = _records(log_output)[-1]
    assert "4242 4242 4242 4242" not in out and PAN not in out
    assert "processor rejected [REDACTED-PAN]" in str(record["exception"])
    assert "Traceback" in str(record["exception"])


def test_structlog_logger_goes_through_the_same_redaction(log_output: io.StringIO) -> None:
    structlog.get_logger("tests").warning("tokenize", number=PAN, detail=f"got {PAN}", cvv="999")

    record = _records(log_output)[-1]
    assert PAN not in log_output.getvalue()
    assert record["number"] == "[REDACTED]"
    assert record["detail"] == "got [REDACTED-PAN]"
    assert record["cvv"] == "[REDACTED]"


@pytest.mark.parametrize("card", load_cards()["approve"] + load_cards()["decline"])
def test_every_public_test_card_is_masked(card: dict[str, str]) -> None:
    assert card["number"] not in redact_text(f"x{card['number']}y and {card['number']}")


def test_non_card_numbers_are_left_alone() -> None:
    # Not Luhn-valid, or too short: amounts, timestamps and ids stay readable.
    assert redact_text("amount 1999 at 1732900000124") == "amount 1999 at 1732900000124"
    assert redact_text("4242424242424241") == "4242424242424241"
    assert not luhn_valid("4242424242424241")


def test_redact_masks_sensitive_keys_and_nested_values() -> None:
    given = {"cardNumber": "1", "nested": [{"card_jwe": "eyJ..."}, f"{PAN}"], "amount": 100}

    assert redact(given) == {
        "cardNumber": "[REDACTED]",
        "nested": [{"card_jwe": "[REDACTED]"}, "[REDACTED-PAN]"],
        "amount": 100,
    }


def test_configured_logging_of_a_real_process_is_redacted() -> None:
    """The settings' LOGGING, not just the formatter: a separate Django process logs a PAN."""
    code = (
        "import django, logging; django.setup(); "
        f"logging.getLogger('payments').error('oops %s', '{PAN}', extra={{'cvc': '737'}})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            "DJANGO_SETTINGS_MODULE": "payments_site.settings.test",
            "ENV_FILE": "/dev/null",
            "PATH": "/usr/bin:/bin",
        },
        check=True,
    )
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert PAN not in result.stderr and "737" not in result.stderr
    assert record["event"] == "oops [REDACTED-PAN]"
    assert record["cvc"] == "[REDACTED]"
