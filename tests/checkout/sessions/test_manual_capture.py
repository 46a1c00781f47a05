"""A hosted ``payment`` session with ``capture_method: manual`` only authorises the card: the
session completes, its charge waits in ``requires_capture`` for the merchant's capture."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from checkout.payments.authorizations import charge_capture
from checkout.payments.models import Charge
from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import checkout_session_complete, checkout_session_create
from payments_site.kernel.errors import InvalidInput
from tests.checkout.sessions.conftest import VISA, jwe_for
from vault.keys import KeyService
from vault.models import Merchant

pytestmark = pytest.mark.django_db

Factory = Callable[..., CheckoutSession]


def test_a_manual_payment_session_authorises_and_the_merchant_captures(
    keys: KeyService, merchant: Merchant
) -> None:
    session = checkout_session_create(
        merchant=merchant,
        mode="payment",
        amount=4200,
        currency="EUR",
        success_url="https://shop.example/thanks",
        cancel_url="https://shop.example/cart",
        capture_method="manual",
    )

    attempt = checkout_session_complete(
        session_id=session.pk, nonce=session.nonce, card_jwe=jwe_for(session, VISA)
    )

    session.refresh_from_db()
    assert attempt.outcome == "complete"
    assert session.status == "complete"
    charge = Charge.objects.get(pk=session.charge_id)
    assert (charge.status, charge.capture_method, charge.amount_capturable) == (
        "requires_capture",
        "manual",
        4200,
    )
    captured = charge_capture(merchant=merchant, charge_id=charge.pk, amount=4000)
    assert (captured.status, captured.amount_captured) == ("succeeded", 4000)


@pytest.mark.parametrize("mode", ["setup", "subscription"])
def test_only_a_payment_session_takes_manual_capture(merchant: Merchant, mode: str) -> None:
    paid = {"amount": 500, "currency": "EUR", "interval": "month"} if mode != "setup" else {}

    with pytest.raises(InvalidInput) as refused:
        checkout_session_create(
            merchant=merchant,
            mode=mode,
            success_url="https://shop.example/thanks",
            cancel_url="https://shop.example/cart",
            capture_method="manual",
            **paid,  # type: ignore[arg-type]
        )

    assert [(e.field, e.code) for e in refused.value.errors] == [
        ("capture_method", "invalid_for_mode")
    ]
    assert not CheckoutSession.objects.exists()


def test_the_api_takes_and_shows_capture_method(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/v1/checkout/sessions",
        {
            "mode": "payment",
            "amount": 1000,
            "currency": "EUR",
            "success_url": "https://shop.example/thanks",
            "cancel_url": "https://shop.example/cart",
            "capture_method": "manual",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["capture_method"] == "manual"
    assert response.json()["payment_status"] == "unpaid"
    assert CheckoutSession.objects.get().capture_method == "manual"
