"""Hosted checkout with a customer: a ``setup`` or ``payment`` session saves its card to the
customer (the same card twice is one card), a ``subscription`` session makes the customer's
subscription, and a customer that cannot be used is refused when the session is created."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_create
from checkout.customers.errors import CustomerUnusable
from checkout.customers.models import Customer, CustomerCard
from checkout.customers.services import customer_create, customer_delete
from checkout.payments.models import Charge
from checkout.payments.services import charge_create
from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import checkout_session_complete, checkout_session_create
from tests.checkout.sessions.conftest import DECLINED, VISA, jwe_for
from vault.keys import KeyService
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(merchant: Merchant) -> Customer:
    return customer_create(merchant=merchant, actor="test", name="Ada")


def _session(merchant: Merchant, customer: Customer, mode: str, **kwargs: Any) -> CheckoutSession:
    if mode != "setup":
        kwargs = {"amount": 1999, "currency": "EUR", **kwargs}
    return checkout_session_create(
        merchant=merchant,
        mode=mode,
        success_url="https://shop.example/thanks",
        cancel_url="https://shop.example/cart",
        customer_id=customer.pk,
        **kwargs,
    )


def _complete(session: CheckoutSession, number: str = VISA) -> CheckoutSession:
    session.refresh_from_db()
    checkout_session_complete(
        session_id=session.pk, nonce=session.nonce, card_jwe=jwe_for(session, number)
    )
    session.refresh_from_db()
    return session


@pytest.mark.parametrize("mode", ["setup", "payment"])
def test_a_completed_session_saves_its_card_to_the_customer(
    keys: KeyService, merchant: Merchant, customer: Customer, mode: str
) -> None:
    session = _complete(_session(merchant, customer, mode))

    assert session.status == "complete" and session.customer_id == customer.pk
    (card,) = CustomerCard.objects.filter(customer=customer)
    assert (card.token_id, card.is_default, card.detached_at) == (session.token_id, True, None)


def test_the_same_card_through_two_sessions_is_one_card(
    keys: KeyService, merchant: Merchant, customer: Customer
) -> None:
    first = _complete(_session(merchant, customer, "setup"))
    second = _complete(_session(merchant, customer, "payment"))

    assert first.token_id != second.token_id  # two tokens of one card number
    cards = CustomerCard.objects.filter(customer=customer, detached_at__isnull=True)
    assert list(cards.values_list("token_id", flat=True)) == [first.token_id]


def test_a_declined_card_is_not_saved(
    keys: KeyService, merchant: Merchant, customer: Customer
) -> None:
    session = _complete(_session(merchant, customer, "payment"), DECLINED)

    assert session.status == "open"
    assert not CustomerCard.objects.exists()


def test_a_subscription_session_makes_the_customers_subscription(
    keys: KeyService, merchant: Merchant, customer: Customer
) -> None:
    session = _complete(_session(merchant, customer, "subscription", interval="month"))

    subscription = Subscription.objects.get(pk=session.subscription_id)
    assert (subscription.customer_id, subscription.token_id) == (customer.pk, session.token_id)
    assert subscription.status == "active" and subscription.period == 1
    assert CustomerCard.objects.get(customer=customer).token_id == session.token_id


def test_a_subscription_session_with_a_card_the_customer_saved_bills_that_saved_card(
    keys: KeyService, merchant: Merchant, customer: Customer
) -> None:
    saved = _complete(_session(merchant, customer, "setup"))

    session = _complete(_session(merchant, customer, "subscription", interval="month"))

    assert session.status == "complete"
    assert session.token_id != saved.token_id  # the card entered again: a second token of it
    subscription = Subscription.objects.get(pk=session.subscription_id)
    assert (subscription.customer_id, subscription.token_id) == (customer.pk, saved.token_id)
    assert subscription.status == "active" and subscription.period == 1
    # the checkout's charge pays period 0 of it, one card saved, not two
    first = Charge.objects.get(pk=session.charge_id)
    assert (first.subscription_id, first.period, first.status) == (subscription.pk, 0, "succeeded")
    cards = CustomerCard.objects.filter(customer=customer, detached_at__isnull=True)
    assert list(cards.values_list("token_id", flat=True)) == [saved.token_id]


def test_a_subscription_period_is_not_paid_by_a_charge_of_another_card(
    merchant: Merchant, token_factory: Callable[..., Token]
) -> None:
    card, other = token_factory(), token_factory(number="5555555555554444")
    paid = charge_create(merchant=merchant, token_id=other.id, amount=900, currency="EUR")

    with pytest.raises(ValueError, match="matching"):
        subscription_create(
            merchant=merchant,
            token_id=card.id,
            amount=900,
            currency="EUR",
            interval="month",
            first_period_paid_by=paid,
        )

    assert not Subscription.objects.exists()
    paid.refresh_from_db()
    assert paid.subscription_id is None


def test_a_customer_deleted_before_completion_does_not_undo_the_payment(
    keys: KeyService, merchant: Merchant, customer: Customer
) -> None:
    session = _session(merchant, customer, "payment")
    customer_delete(merchant=merchant, customer_id=customer.pk, actor="test")

    session = _complete(session)

    assert session.status == "complete" and session.charge is not None
    assert not CustomerCard.objects.exists()
    token = Token.objects.get(pk=session.token_id)
    assert token.status == Token.Status.ACTIVE


@pytest.mark.parametrize("case", ["unknown", "other_merchant", "deleted"])
def test_a_session_for_a_customer_that_cannot_be_used_is_refused(
    merchant: Merchant, other_merchant: Merchant, customer: Customer, case: str
) -> None:
    if case == "deleted":
        customer_delete(merchant=merchant, customer_id=customer.pk, actor="test")
    asking = other_merchant if case == "other_merchant" else merchant
    named = customer if case != "unknown" else Customer(pk="cus_" + "0" * 22)

    with pytest.raises(CustomerUnusable) as refused:
        _session(asking, named, "setup")

    assert (refused.value.code, refused.value.field) == ("customer_not_found", "customer")
    assert not CheckoutSession.objects.exists()


def test_the_api_takes_and_shows_the_customer(api_client: APIClient) -> None:
    customer = api_client.post("/api/v1/customers", {"name": "Ada"}, format="json").json()
    body = {
        "mode": "setup",
        "success_url": "https://shop.example/thanks",
        "cancel_url": "https://shop.example/cart",
    }

    created = api_client.post(
        "/api/v1/checkout/sessions", {**body, "customer": customer["id"]}, format="json"
    )
    refused = api_client.post(
        "/api/v1/checkout/sessions", {**body, "customer": "cus_" + "1" * 22}, format="json"
    )

    assert created.status_code == 201, created.content
    assert created.json()["customer"] == customer["id"]
    assert refused.status_code == 422 and refused.json()["code"] == "customer_not_found"
