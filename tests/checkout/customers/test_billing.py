"""Subscriptions of customers: the default card is billed, a new default is followed from the
next renewal, and deleting the customer cancels its subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from checkout.billing.events import SubscriptionCanceled
from checkout.billing.models import Subscription
from checkout.billing.services import (
    subscription_bill,
    subscription_create,
    subscriptions_on_customer_deleted,
)
from checkout.customers.errors import CustomerUnusable
from checkout.customers.events import CustomerDeleted
from checkout.customers.models import Customer
from checkout.customers.services import (
    customer_card_attach,
    customer_card_detach,
    customer_create,
    customer_delete,
    customer_update,
)
from checkout.payments.models import Charge
from checkout.payments.processors.models import SandboxLedgerEntry
from tests.checkout.conftest import at
from tests.checkout.events import heard
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db

MASTERCARD = "5555555555554444"


@pytest.fixture
def customer(merchant: Merchant) -> Customer:
    return customer_create(merchant=merchant, actor="test", name="Ada", email="ada@example.com")


def _save(merchant: Merchant, customer: Customer, token: Token, **kwargs: Any) -> None:
    customer_card_attach(
        merchant=merchant, customer_id=customer.pk, token_id=token.id, actor="test", **kwargs
    )


def _subscribe(merchant: Merchant, customer: Customer, **kwargs: Any) -> Subscription:
    return subscription_create(
        merchant=merchant,
        customer_id=customer.pk,
        amount=900,
        currency="EUR",
        interval="month",
        start=at("2027-01-31"),
        now=at("2027-01-30"),
        **kwargs,
    )


def _bill(subscription: Subscription) -> Charge | None:
    subscription.refresh_from_db()
    assert subscription.next_billing_at is not None
    return subscription_bill(subscription_id=subscription.id, now=subscription.next_billing_at)


def test_renewals_charge_the_default_card_and_follow_a_new_default(
    merchant: Merchant, customer: Customer, token_factory: Callable[..., Token]
) -> None:
    first, second = token_factory(), token_factory(number=MASTERCARD)
    _save(merchant, customer, first)  # the first card saved is the default
    _save(merchant, customer, second)
    subscription = _subscribe(merchant, customer)
    assert (subscription.token_id, subscription.uses_customer_default) == (first.id, True)

    period_0 = _bill(subscription)
    customer_update(
        merchant=merchant, customer_id=customer.pk, actor="test", default_token=second.id
    )
    period_1 = _bill(subscription)
    period_2 = _bill(subscription)

    assert period_0 is not None and period_1 is not None and period_2 is not None
    assert [c.token_id for c in (period_0, period_1, period_2)] == [first.id, second.id, second.id]
    assert [c.status for c in (period_0, period_1, period_2)] == ["succeeded"] * 3
    subscription.refresh_from_db()
    assert (subscription.status, subscription.period) == ("active", 3)


def test_the_api_shows_the_customer_and_the_card_the_next_renewal_charges(
    api_client: APIClient, token_factory: Callable[..., Token]
) -> None:
    first, second = token_factory(), token_factory(number=MASTERCARD)
    customer = api_client.post("/api/v1/customers", {"name": "Ada"}, format="json").json()
    cards = f"/api/v1/customers/{customer['id']}/cards"
    api_client.post(cards, {"token": first.id}, format="json")
    api_client.post(cards, {"token": second.id}, format="json")

    created = api_client.post(
        "/api/v1/subscriptions",
        {"customer": customer["id"], "amount": 900, "currency": "EUR", "interval": "month"},
        format="json",
    )
    api_client.post(
        f"/api/v1/customers/{customer['id']}", {"default_token": second.id}, format="json"
    )
    read = api_client.get(f"/api/v1/subscriptions/{created.json()['id']}").json()
    listed = api_client.get("/api/v1/subscriptions", {"customer": customer["id"]}).json()

    assert created.status_code == 201, created.content
    assert created.json()["customer"] == customer["id"]
    assert created.json()["token"] == first.id and created.json()["uses_customer_default"] is True
    assert read["token"] == second.id
    assert [s["id"] for s in listed["data"]] == [created.json()["id"]]


def test_a_subscription_with_a_token_of_its_own_keeps_it(
    merchant: Merchant, customer: Customer, token_factory: Callable[..., Token]
) -> None:
    first, second = token_factory(), token_factory(number=MASTERCARD)
    _save(merchant, customer, first)
    _save(merchant, customer, second)
    subscription = _subscribe(merchant, customer, token_id=second.id)
    customer_update(
        merchant=merchant, customer_id=customer.pk, actor="test", default_token=first.id
    )

    charge = _bill(subscription)

    assert subscription.uses_customer_default is False
    assert charge is not None and charge.token_id == second.id


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("no_default_card", "customer_no_default_card", "customer"),
        ("not_its_card", "not_a_customer_card", "token"),
        ("unknown", "customer_not_found", "customer"),
        ("other_merchant", "customer_not_found", "customer"),
        ("deleted", "customer_not_found", "customer"),
    ],
)
def test_a_customer_that_cannot_pay_is_refused_with_a_422_and_nothing_stored(
    merchant: Merchant,
    other_merchant: Merchant,
    customer: Customer,
    token: Token,
    case: str,
    code: str,
    field: str,
) -> None:
    kwargs: dict[str, Any] = {"customer_id": customer.pk}
    if case == "not_its_card":
        kwargs["token_id"] = token.id
    elif case == "unknown":
        kwargs["customer_id"] = "cus_" + "0" * 22
    elif case == "deleted":
        customer_delete(merchant=merchant, customer_id=customer.pk, actor="test")
    asking = other_merchant if case == "other_merchant" else merchant

    with pytest.raises(CustomerUnusable) as refused:
        subscription_create(merchant=asking, amount=900, currency="EUR", interval="month", **kwargs)

    assert (refused.value.code, refused.value.field) == (code, field)
    assert not Subscription.objects.exists()


def test_through_the_api_a_bad_customer_is_a_422(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/v1/subscriptions",
        {"customer": "cus_" + "0" * 22, "amount": 900, "currency": "EUR", "interval": "month"},
        format="json",
    )
    missing = api_client.post(
        "/api/v1/subscriptions",
        {"amount": 900, "currency": "EUR", "interval": "month"},
        format="json",
    )

    assert response.status_code == 422 and response.json()["code"] == "customer_not_found"
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "token"


def test_deleting_the_customer_cancels_its_subscriptions_and_bills_nothing_more(
    merchant: Merchant,
    customer: Customer,
    token: Token,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    _save(merchant, customer, token)
    subscription = _subscribe(merchant, customer)
    _bill(subscription)

    with django_capture_on_commit_callbacks(execute=True):
        customer_delete(merchant=merchant, customer_id=customer.pk, actor="test")

    subscription.refresh_from_db()
    assert (subscription.status, subscription.status_reason) == ("canceled", "customer_deleted")
    assert subscription.next_billing_at is None
    assert Charge.objects.count() == SandboxLedgerEntry.objects.count() == 1


def test_a_lost_deletion_event_still_cancels_at_the_next_attempt(
    merchant: Merchant, customer: Customer, token: Token
) -> None:
    _save(merchant, customer, token)
    subscription = _subscribe(merchant, customer)
    customer_delete(merchant=merchant, customer_id=customer.pk, actor="test")  # handlers not run

    charge = _bill(subscription)

    assert charge is None
    subscription.refresh_from_db()
    assert (subscription.status, subscription.status_reason) == ("canceled", "customer_deleted")
    assert not Charge.objects.exists() and not SandboxLedgerEntry.objects.exists()
    # The handler, when it runs late, finds nothing left to cancel.
    event = CustomerDeleted(customer_id=customer.pk, merchant_id=merchant.pk)
    assert subscriptions_on_customer_deleted(event) == 0


def test_detaching_the_default_card_then_saving_a_new_one_recovers_the_renewal(
    merchant: Merchant,
    customer: Customer,
    token_factory: Callable[..., Token],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    old, new = token_factory(), token_factory(number=MASTERCARD)
    _save(merchant, customer, old)
    subscription = _subscribe(merchant, customer)
    _bill(subscription)

    with django_capture_on_commit_callbacks(execute=True):
        customer_card_detach(merchant=merchant, customer_id=customer.pk, token_id=old.id, actor="t")
    subscription.refresh_from_db()
    assert (subscription.status, subscription.status_reason) == ("past_due", "token_revoked")
    _save(merchant, customer, new)  # no default any more: this one becomes it

    retry = _bill(subscription)

    assert retry is not None and (retry.token_id, retry.status) == (new.id, "succeeded")
    subscription.refresh_from_db()
    assert (subscription.status, subscription.token_id) == ("active", new.id)


def test_the_cancellation_is_announced(
    merchant: Merchant,
    customer: Customer,
    token: Token,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    _save(merchant, customer, token)
    subscription = _subscribe(merchant, customer)
    with heard(SubscriptionCanceled) as events, django_capture_on_commit_callbacks(execute=True):
        subscriptions_on_customer_deleted(
            CustomerDeleted(customer_id=customer.pk, merchant_id=merchant.pk)
        )
    assert [getattr(e, "subscription_id", None) for e in events] == [subscription.id]
