"""The sandbox's authorize / capture / void: one capture or void per hold, idempotent on our keys,
refunds bounded by what was captured, and the capture-decline test cards refused at capture."""

from __future__ import annotations

import pytest

from checkout.payments.processors import (
    ProcessorCard,
    ProcessorTimeout,
    capture_key,
    void_key,
)
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.payments.processors.sandbox import SandboxIdempotencyError, SandboxProcessor
from tests.checkout.conftest import CARDS

pytestmark = pytest.mark.django_db

VISA = CARDS["approve"][0]["number"]
AT_CAPTURE = CARDS["decline_at_capture"][0]


def card(number: str = VISA) -> ProcessorCard:
    return ProcessorCard(number=number, exp_month=12, exp_year=2034, cvc="123")


def hold(processor: SandboxProcessor, *, key: str = "ch_h", amount: int = 1000) -> str:
    held = processor.authorize(idempotency_key=key, card=card(), amount=amount, currency="EUR")
    assert held.approved and held.processor_id.startswith("pya_")
    return held.processor_id


def test_an_authorization_is_found_by_its_key_like_a_charge() -> None:
    processor = SandboxProcessor()
    held = processor.authorize(idempotency_key="ch_a", card=card(), amount=500, currency="EUR")

    assert processor.charge_lookup(idempotency_key="ch_a") == held
    assert SandboxLedgerEntry.objects.get().kind == "authorize"


@pytest.mark.parametrize("entry", CARDS["decline"], ids=lambda e: e["failure_code"])
def test_decline_cards_decline_the_authorization(entry: dict[str, str]) -> None:
    result = SandboxProcessor().authorize(
        idempotency_key="ch_d", card=card(entry["number"]), amount=100, currency="EUR"
    )
    assert (result.approved, result.failure_code) == (False, entry["failure_code"])


def test_full_capture_takes_the_hold_once_and_the_same_key_answers_the_same() -> None:
    processor = SandboxProcessor()
    pid = hold(processor)

    first = processor.capture(
        idempotency_key=capture_key("ch_h"), processor_charge_id=pid, amount=1000, currency="EUR"
    )
    again = processor.capture(
        idempotency_key=capture_key("ch_h"), processor_charge_id=pid, amount=1000, currency="EUR"
    )

    assert (first.succeeded, first.amount) == (True, 1000)
    assert again == first
    assert SandboxLedgerEntry.objects.filter(kind="capture").count() == 1


def test_partial_capture_then_a_second_capture_or_void_is_refused() -> None:
    processor = SandboxProcessor()
    pid = hold(processor)

    part = processor.capture(
        idempotency_key=capture_key("ch_h"), processor_charge_id=pid, amount=400, currency="EUR"
    )
    second = processor.capture(
        idempotency_key="other", processor_charge_id=pid, amount=100, currency="EUR"
    )
    voided = processor.void(idempotency_key=void_key("ch_h"), processor_charge_id=pid)

    assert (part.succeeded, part.amount) == (True, 400)
    assert (second.succeeded, second.failure_code) == (False, "charge_already_captured")
    assert (voided.succeeded, voided.failure_code) == (False, "charge_already_captured")


def test_capture_above_the_hold_is_refused_and_leaves_the_hold() -> None:
    processor = SandboxProcessor()
    pid = hold(processor)

    over = processor.capture(
        idempotency_key="too_much", processor_charge_id=pid, amount=1001, currency="EUR"
    )
    fine = processor.capture(
        idempotency_key=capture_key("ch_h"), processor_charge_id=pid, amount=1000, currency="EUR"
    )

    assert (over.succeeded, over.failure_code) == (False, "amount_too_large")
    assert fine.succeeded


def test_void_releases_the_hold_and_a_later_capture_is_refused() -> None:
    processor = SandboxProcessor()
    pid = hold(processor)

    voided = processor.void(idempotency_key=void_key("ch_h"), processor_charge_id=pid)
    again = processor.void(idempotency_key=void_key("ch_h"), processor_charge_id=pid)
    late = processor.capture(
        idempotency_key=capture_key("ch_h"), processor_charge_id=pid, amount=1000, currency="EUR"
    )

    assert voided.succeeded and again == voided
    assert (late.succeeded, late.failure_code) == (False, "authorization_released")


def test_unknown_authorization_is_refused() -> None:
    processor = SandboxProcessor()
    captured = processor.capture(
        idempotency_key="k1", processor_charge_id="pya_nope", amount=1, currency="EUR"
    )
    voided = processor.void(idempotency_key="k2", processor_charge_id="pya_nope")

    assert captured.failure_code == voided.failure_code == "authorization_not_found"


def test_the_capture_decline_card_is_authorised_then_refused_at_capture() -> None:
    processor = SandboxProcessor()
    held = processor.authorize(
        idempotency_key="ch_c", card=card(AT_CAPTURE["number"]), amount=700, currency="EUR"
    )
    refused = processor.capture(
        idempotency_key=capture_key("ch_c"),
        processor_charge_id=held.processor_id,
        amount=700,
        currency="EUR",
    )
    charged = processor.charge(
        idempotency_key="ch_now", card=card(AT_CAPTURE["number"]), amount=700, currency="EUR"
    )

    assert held.approved
    assert (refused.succeeded, refused.failure_code) == (False, AT_CAPTURE["failure_code"])
    assert refused.failure_message
    # The refusal released the hold: nothing is left to void or capture.
    voided = processor.void(idempotency_key=void_key("ch_c"), processor_charge_id=held.processor_id)
    assert (voided.succeeded, voided.failure_code) == (False, "authorization_released")
    assert (charged.approved, charged.failure_code) == (False, AT_CAPTURE["failure_code"])


def test_refunds_of_an_authorization_are_bounded_by_the_captured_amount() -> None:
    processor = SandboxProcessor()
    pid = hold(processor)
    before = processor.refund(
        idempotency_key="re_0", processor_charge_id=pid, amount=1, currency="EUR"
    )
    processor.capture(
        idempotency_key=capture_key("ch_h"), processor_charge_id=pid, amount=600, currency="EUR"
    )

    within = processor.refund(
        idempotency_key="re_1", processor_charge_id=pid, amount=600, currency="EUR"
    )
    beyond = processor.refund(
        idempotency_key="re_2", processor_charge_id=pid, amount=1, currency="EUR"
    )

    assert (before.succeeded, before.failure_code) == (False, "amount_too_large")
    assert within.succeeded
    assert (beyond.succeeded, beyond.failure_code) == (False, "amount_too_large")


def test_a_capture_key_reused_with_another_amount_is_refused() -> None:
    processor = SandboxProcessor()
    pid = hold(processor)
    processor.capture(
        idempotency_key=capture_key("ch_h"), processor_charge_id=pid, amount=500, currency="EUR"
    )
    with pytest.raises(SandboxIdempotencyError):
        processor.capture(
            idempotency_key=capture_key("ch_h"), processor_charge_id=pid, amount=501, currency="EUR"
        )


def _send(processor: SandboxProcessor, step: str, pid: str) -> bool:
    if step == "capture":
        return processor.capture(
            idempotency_key=capture_key("ch_h"),
            processor_charge_id=pid,
            amount=1000,
            currency="EUR",
        ).succeeded
    return processor.void(idempotency_key=void_key("ch_h"), processor_charge_id=pid).succeeded


@pytest.mark.parametrize("step", ["capture", "void"])
def test_a_fault_on_one_step_spares_the_others_and_the_lost_answer_is_recorded(step: str) -> None:
    faulty = SandboxProcessor(fault="timeout_after", fault_on=step)
    pid = hold(faulty)  # authorize is not faulted

    with pytest.raises(ProcessorTimeout):
        _send(faulty, step, pid)

    # Sent again (reconciliation), the processor answers with what it recorded: no second effect.
    assert _send(SandboxProcessor(), step, pid) is True
    assert SandboxLedgerEntry.objects.filter(kind=step).count() == 1


def test_unknown_fault_operation_is_rejected_at_configuration() -> None:
    with pytest.raises(ValueError, match="unknown sandbox operations"):
        SandboxProcessor(fault="timeout_after", fault_on="capture,teleport")


def test_the_keys_of_later_steps_derive_from_the_charge_id() -> None:
    assert capture_key("ch_1") == "ch_1:capture"
    assert void_key("ch_1") == "ch_1:void"
    assert capture_key("ch_1") != void_key("ch_1") != "ch_1"
