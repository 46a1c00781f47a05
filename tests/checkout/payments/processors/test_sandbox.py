"""The sandbox processor follows the public test cards and is idempotent like a real one."""

from __future__ import annotations

import pytest

from checkout.payments.processors import ProcessorCard, ProcessorTimeout, ProcessorUnreachable
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.payments.processors.sandbox import SandboxIdempotencyError, SandboxProcessor
from tests.checkout.conftest import CARDS

pytestmark = pytest.mark.django_db


def card(number: str) -> ProcessorCard:
    return ProcessorCard(number=number, exp_month=12, exp_year=2034, cvc="123")


@pytest.mark.parametrize("entry", CARDS["approve"], ids=lambda e: e["number"][-4:])
def test_approval_cards_are_approved(entry: dict[str, str]) -> None:
    result = SandboxProcessor().charge(
        idempotency_key="ch_a", card=card(entry["number"]), amount=100, currency="EUR"
    )
    assert result.approved is True
    assert result.failure_code == ""
    assert result.processor_id.startswith("py_")


@pytest.mark.parametrize("entry", CARDS["decline"], ids=lambda e: e["failure_code"])
def test_each_decline_card_gives_its_failure_code(entry: dict[str, str]) -> None:
    result = SandboxProcessor().charge(
        idempotency_key="ch_d", card=card(entry["number"]), amount=100, currency="EUR"
    )
    assert result.approved is False
    assert result.failure_code == entry["failure_code"]
    assert result.failure_message


def test_a_card_failing_luhn_is_an_incorrect_number() -> None:
    bad = CARDS["invalid"][0]["number"]
    result = SandboxProcessor().charge(
        idempotency_key="ch_x", card=card(bad), amount=1, currency="EUR"
    )
    assert (result.approved, result.failure_code) == (False, "incorrect_number")


def test_same_idempotency_key_charges_once_and_answers_the_same() -> None:
    processor = SandboxProcessor()
    first = processor.charge(
        idempotency_key="ch_1", card=card(CARDS["approve"][0]["number"]), amount=500, currency="EUR"
    )
    second = processor.charge(
        idempotency_key="ch_1", card=card(CARDS["approve"][0]["number"]), amount=500, currency="EUR"
    )

    assert first == second
    assert SandboxLedgerEntry.objects.count() == 1
    assert processor.charge_lookup(idempotency_key="ch_1") == first
    assert processor.charge_lookup(idempotency_key="ch_unknown") is None


def test_same_key_with_other_parameters_is_refused() -> None:
    processor = SandboxProcessor()
    processor.charge(
        idempotency_key="ch_1", card=card(CARDS["approve"][0]["number"]), amount=500, currency="EUR"
    )
    with pytest.raises(SandboxIdempotencyError):
        processor.charge(
            idempotency_key="ch_1",
            card=card(CARDS["approve"][0]["number"]),
            amount=501,
            currency="EUR",
        )


def test_timeout_after_records_the_charge_but_loses_the_answer() -> None:
    with pytest.raises(ProcessorTimeout):
        SandboxProcessor(fault="timeout_after").charge(
            idempotency_key="ch_t",
            card=card(CARDS["approve"][0]["number"]),
            amount=100,
            currency="EUR",
        )
    found = SandboxProcessor().charge_lookup(idempotency_key="ch_t")
    assert found is not None and found.approved


@pytest.mark.parametrize(
    ("fault", "error"),
    [("timeout_before", ProcessorTimeout), ("connection_error", ProcessorUnreachable)],
)
def test_faults_before_delivery_record_nothing(fault: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        SandboxProcessor(fault=fault).charge(
            idempotency_key="ch_f",
            card=card(CARDS["approve"][0]["number"]),
            amount=100,
            currency="EUR",
        )
    assert SandboxLedgerEntry.objects.count() == 0


def test_card_number_never_appears_in_a_repr() -> None:
    number = CARDS["approve"][0]["number"]
    assert number not in repr(card(number))


def test_refunds_never_exceed_the_charge() -> None:
    processor = SandboxProcessor()
    charged = processor.charge(
        idempotency_key="ch_r",
        card=card(CARDS["approve"][0]["number"]),
        amount=1000,
        currency="EUR",
    )
    first = processor.refund(
        idempotency_key="re_1", processor_charge_id=charged.processor_id, amount=600, currency="EUR"
    )
    again = processor.refund(
        idempotency_key="re_1", processor_charge_id=charged.processor_id, amount=600, currency="EUR"
    )
    too_much = processor.refund(
        idempotency_key="re_2", processor_charge_id=charged.processor_id, amount=401, currency="EUR"
    )

    assert first.succeeded and again == first
    assert (too_much.succeeded, too_much.failure_code) == (False, "amount_too_large")


def test_unknown_fault_name_is_rejected_at_configuration() -> None:
    with pytest.raises(ValueError, match="unknown sandbox fault"):
        SandboxProcessor(fault="flaky")
