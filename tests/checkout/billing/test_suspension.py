"""A suspended merchant's renewals and dunning are skipped by run_billing and by the Celery
tasks; reactivation resumes at the next period without back-billing the missed ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.core.management import call_command
from pytest_django.fixtures import Settings as SettingsWrapper

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_bill, subscription_create
from checkout.payments.models import Charge
from checkout.tasks import billing_enqueue_due
from tests.checkout.conftest import DECLINES, at
from vault.merchants import merchant_reactivate, merchant_suspend
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db

NOW: list[datetime] = [at("2027-01-30")]


def frozen_clock() -> datetime:
    return NOW[0]


@pytest.fixture(autouse=True)
def _clock(settings: SettingsWrapper) -> None:
    settings.CHECKOUT_CLOCK = f"{__name__}.frozen_clock"


def run_billing(when: str) -> None:
    NOW[0] = at(when)
    with open("/dev/null", "w") as sink:
        call_command("run_billing", f"--now={at(when).isoformat()}", stdout=sink)


def periods(subscription: Subscription) -> list[int]:
    charges = Charge.objects.filter(subscription=subscription)
    return sorted(p or 0 for p in charges.values_list("period", flat=True))


def test_a_suspended_merchant_is_not_billed_and_resumes_at_the_next_period(
    merchant: Merchant, token: Token, django_capture_on_commit_callbacks: Any
) -> None:
    subscription = subscription_create(
        merchant=merchant,
        token_id=token.id,
        amount=900,
        currency="EUR",
        interval="month",
        start=at("2027-01-31"),
        now=at("2027-01-30"),
    )
    run_billing("2027-01-31")  # period 0
    assert periods(subscription) == [0]

    merchant_suspend(merchant=merchant, actor="test", reason="fraud review")
    run_billing("2027-02-28")
    run_billing("2027-03-31")
    assert periods(subscription) == [0]  # renewals skipped, by run_billing…
    assert billing_enqueue_due(now="2027-04-01T00:00:00+00:00") == 0  # …and by the beat task
    assert subscription_bill(subscription_id=subscription.pk, now=at("2027-04-01")) is None

    NOW[0] = at("2027-04-10")
    with django_capture_on_commit_callbacks(execute=True):
        merchant_reactivate(merchant=merchant, actor="test")

    subscription.refresh_from_db()
    assert subscription.next_billing_at == at("2027-04-30")  # Feb and Mar are not back-billed
    run_billing("2027-04-10")
    assert periods(subscription) == [0]
    run_billing("2027-04-30")
    assert periods(subscription) == [0, 3]
    assert Charge.objects.get(period=3).status == "succeeded"


def test_dunning_skips_a_suspended_merchant_and_continues_after_reactivation(
    merchant: Merchant, token_factory: Callable[..., Token], django_capture_on_commit_callbacks: Any
) -> None:
    declined = token_factory(number=DECLINES["insufficient_funds"])
    subscription = subscription_create(
        merchant=merchant,
        token_id=declined.id,
        amount=900,
        currency="EUR",
        interval="month",
        start=at("2027-01-31"),
        now=at("2027-01-30"),
    )
    run_billing("2027-01-31")
    subscription.refresh_from_db()
    assert subscription.status == "past_due"

    merchant_suspend(merchant=merchant, actor="test")
    run_billing("2027-02-06")
    assert Charge.objects.filter(subscription=subscription).count() == 1

    NOW[0] = at("2027-02-06")
    with django_capture_on_commit_callbacks(execute=True):
        merchant_reactivate(merchant=merchant, actor="test")
    run_billing("2027-02-06")

    # The schedule goes on where it stopped: one retry per pass, never a burst.
    assert Charge.objects.filter(subscription=subscription).count() == 2
