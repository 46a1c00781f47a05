"""``AdyenProcessor`` against a local HTTPS fake of Adyen that validates every request against
Adyen's Checkout v71 OpenAPI spec and answers only what the spec allows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from checkout.payments.processors.adyen import (
    REFUSAL_CODES,
    AdyenLiveProcessor,
    AdyenProcessor,
)
from checkout.payments.processors.base import (
    ProcessorCard,
    ProcessorTimeout,
    ProcessorUnreachable,
    capture_key,
    void_key,
)
from tests.checkout.payments.processors.adyen_fake import (
    API_KEY,
    MERCHANT_ACCOUNT,
    FakeAdyen,
    fake_adyen,
)
from tests.checkout.webhooks.conftest import TlsFiles
from tests.checkout.webhooks.conftest import tls_files as tls_files  # the tests' own CA

CARD = ProcessorCard(
    number="4111111111111111", exp_month=3, exp_year=2030, name="A Shopper", cvc="737"
)
REFUSED = "5555555555554444"
THREE_DS = "4212345678901237"
REDIRECT = "4917610000000000"


@pytest.fixture
def fake(tls_files: Callable[[str], TlsFiles]) -> Iterator[FakeAdyen]:
    files = tls_files("localhost")
    with fake_adyen(certfile=str(files.cert), keyfile=str(files.key)) as running:
        running.ca = str(files.ca)  # type: ignore[attr-defined]
        yield running
    assert running.violations == [], running.violations


def _processor(fake: FakeAdyen, **options: Any) -> AdyenProcessor:
    return AdyenProcessor(
        **{
            "endpoint": fake.endpoint,
            "api_key": API_KEY,
            "merchant_account": MERCHANT_ACCOUNT,
            "ca_bundle": fake.ca,  # type: ignore[attr-defined]
            "timeout": 2.0,  # generous: the machine is shared; lost answers come later still
            **options,
        }
    )


def _card(number: str) -> ProcessorCard:
    return ProcessorCard(number=number, exp_month=3, exp_year=2030, cvc="737")


def test_a_charge_is_authorised_and_captured_at_once_with_our_key(fake: FakeAdyen) -> None:
    result = _processor(fake).charge(idempotency_key="ch_1", card=CARD, amount=1999, currency="eur")
    assert result.approved is True
    assert len(result.processor_id) == 16
    (request,) = fake.requests
    assert request["key"] == "ch_1"
    body = request["body"]
    assert body["reference"] == "ch_1"
    assert body["amount"] == {"currency": "EUR", "value": 1999}
    assert body["captureDelayHours"] == 0
    assert body["paymentMethod"] == {
        "type": "scheme",
        "number": "4111111111111111",
        "expiryMonth": "03",
        "expiryYear": "2030",
        "holderName": "A Shopper",
        "cvc": "737",
    }
    assert fake.effects["payment"] == 1


@pytest.mark.parametrize(("code", "ours"), sorted(REFUSAL_CODES.items()))
def test_each_refusal_reason_maps_to_our_failure_code(
    fake: FakeAdyen, code: str, ours: str
) -> None:
    fake.outcomes[REFUSED] = ("Refused", code, f"reason {code}")
    result = _processor(fake).charge(
        idempotency_key=f"ch_r{code}", card=_card(REFUSED), amount=100, currency="EUR"
    )
    assert result.approved is False
    assert result.failure_code == ours
    assert result.failure_message


@pytest.mark.parametrize("result_code", ["RedirectShopper", "ChallengeShopper"])
def test_three_d_secure_is_refused_with_a_specific_code_never_a_success(
    fake: FakeAdyen, result_code: str
) -> None:
    fake.outcomes[THREE_DS] = (result_code,)
    result = _processor(fake).charge(
        idempotency_key="ch_3ds", card=_card(THREE_DS), amount=100, currency="EUR"
    )
    assert result.approved is False
    assert result.failure_code == "authentication_required"


def test_authorize_then_partial_capture_and_refund_are_received_with_derived_keys(
    fake: FakeAdyen,
) -> None:
    adyen = _processor(fake)
    held = adyen.authorize(idempotency_key="ch_a", card=CARD, amount=5000, currency="EUR")
    assert held.approved
    assert fake.requests[0]["body"]["additionalData"] == {"manualCapture": "true"}
    captured = adyen.capture(
        idempotency_key=capture_key("ch_a"),
        processor_charge_id=held.processor_id,
        amount=3000,
        currency="EUR",
    )
    # "received": accepted, confirmed later by Adyen's notification
    assert captured.succeeded and captured.pending and captured.amount == 3000
    refunded = adyen.refund(
        idempotency_key="re_a", processor_charge_id=held.processor_id, amount=1000, currency="EUR"
    )
    assert refunded.succeeded and refunded.pending
    assert [r["key"] for r in fake.requests] == ["ch_a", "ch_a:capture", "re_a"]
    assert fake.effects == {"payment": 1, "capture": 1, "refund": 1}


def test_cancel_releases_an_authorization(fake: FakeAdyen) -> None:
    adyen = _processor(fake)
    held = adyen.authorize(idempotency_key="ch_v", card=CARD, amount=5000, currency="EUR")
    voided = adyen.void(idempotency_key=void_key("ch_v"), processor_charge_id=held.processor_id)
    assert voided.succeeded and voided.pending
    assert fake.effects["cancel"] == 1
    # a capture after the cancel is refused by Adyen (422): a failure, not a success
    late = adyen.capture(
        idempotency_key=capture_key("ch_v"),
        processor_charge_id=held.processor_id,
        amount=5000,
        currency="EUR",
    )
    assert late.succeeded is False
    assert late.failure_code == "processing_error"


def test_a_lost_answer_is_resolved_by_the_idempotent_retry_with_one_authorization(
    fake: FakeAdyen,
) -> None:
    # given Adyen makes the payment but its answer never reaches us
    adyen = _processor(fake)
    fake.script.append("lost")
    with pytest.raises(ProcessorTimeout):
        adyen.charge(idempotency_key="ch_lost", card=CARD, amount=700, currency="EUR")
    # when we retry with the same key (what reconcile does: charge_lookup knows nothing)
    assert adyen.charge_lookup(idempotency_key="ch_lost") is None
    again = adyen.charge(idempotency_key="ch_lost", card=CARD, amount=700, currency="EUR")
    # then Adyen answers with the first result and there is exactly one authorization
    assert again.approved
    assert fake.effects["payment"] == 1
    assert fake.answers["ch_lost"][1]["pspReference"] == again.processor_id


def test_a_lost_capture_and_refund_retry_to_exactly_one_each(fake: FakeAdyen) -> None:
    adyen = _processor(fake)
    held = adyen.authorize(idempotency_key="ch_l", card=CARD, amount=900, currency="EUR")
    for call in (
        lambda: adyen.capture(
            idempotency_key=capture_key("ch_l"),
            processor_charge_id=held.processor_id,
            amount=900,
            currency="EUR",
        ),
        lambda: adyen.refund(
            idempotency_key="re_l",
            processor_charge_id=held.processor_id,
            amount=900,
            currency="EUR",
        ),
    ):
        fake.script.append("lost")
        with pytest.raises(ProcessorTimeout):
            call()
        assert call().succeeded
    assert fake.effects == {"payment": 1, "capture": 1, "refund": 1}


def test_a_server_error_is_an_unknown_outcome(fake: FakeAdyen) -> None:
    fake.script.append("500")
    with pytest.raises(ProcessorTimeout):
        _processor(fake).charge(idempotency_key="ch_500", card=CARD, amount=100, currency="EUR")
    assert fake.effects["payment"] == 0


def test_a_timeout_is_an_unknown_outcome(fake: FakeAdyen) -> None:
    fake.script.append("hang")
    with pytest.raises(ProcessorTimeout):
        _processor(fake).charge(idempotency_key="ch_hang", card=CARD, amount=100, currency="EUR")


def test_a_validation_error_is_a_decline_that_moved_nothing(fake: FakeAdyen) -> None:
    fake.script.append("422")
    result = _processor(fake).charge(
        idempotency_key="ch_422", card=CARD, amount=100, currency="EUR"
    )
    assert result.approved is False
    assert result.failure_code == "processing_error"
    assert fake.effects["payment"] == 0


def test_wrong_credentials_are_unreachable_and_nothing_happens(fake: FakeAdyen) -> None:
    with pytest.raises(ProcessorUnreachable):
        _processor(fake, api_key="AQE-wrong").charge(
            idempotency_key="ch_401", card=CARD, amount=100, currency="EUR"
        )
    assert fake.effects["payment"] == 0


def test_a_closed_port_is_unreachable(fake: FakeAdyen) -> None:
    with pytest.raises(ProcessorUnreachable):
        _processor(fake, endpoint="https://localhost:1/v71").charge(
            idempotency_key="ch_closed", card=CARD, amount=100, currency="EUR"
        )


def test_the_fake_refuses_what_the_spec_refuses(fake: FakeAdyen) -> None:
    """The validator has teeth: a request off the spec is a violation and a 422."""
    status, _ = fake.handle(
        "/v71/payments",
        {"x-api-key": API_KEY, "idempotency-key": "k"},
        b'{"amount": {"currency": "EUR", "value": "ten"}, "merchantAccount": "TesseraECOM"}',
    )
    assert status == 422
    assert any("value" in v for v in fake.violations)
    fake.violations.clear()


def test_live_mode_refuses_adyens_test_endpoint() -> None:
    with pytest.raises(ImproperlyConfigured, match="test endpoint"):
        AdyenLiveProcessor(
            endpoint="https://checkout-test.adyen.com/v71", api_key="k", merchant_account="m"
        )
