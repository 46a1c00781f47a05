"""Suspension against a live Celery worker on Redis: a renewal task already in the queue when
the merchant is suspended runs and charges nothing, the API refuses the merchant's writes with
403 ``merchant_suspended`` while reads work, and after reactivation the worker bills again from
the first period that starts after it (the README's "Merchant suspension")."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_create
from checkout.payments.models import Charge
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.tasks import bill_subscription, billing_enqueue_due
from tests.checkout.conftest import at
from tests.support.servers import celery_workers
from vault.merchants import merchant_reactivate, merchant_suspend
from vault.models import Merchant, Token

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a Redis broker (REDIS_URL)"),
]

NOW: list[datetime] = [at("2027-01-30")]


def frozen_clock() -> datetime:
    return NOW[0]


@pytest.fixture(autouse=True)
def _clock(settings: SettingsWrapper) -> None:
    # This process's clock (reactivation reschedules as of it); the worker bills as of the
    # ``now`` each task carries.
    settings.CHECKOUT_CLOCK = f"{__name__}.frozen_clock"


@pytest.fixture
def worker_log(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "worker.log"
    queue = f"tessera-test-{secrets.token_hex(4)}"
    with celery_workers(broker=os.environ["REDIS_URL"], queue=queue, logs=[log]):
        yield log


def task_result(log: Path, task_id: str, timeout: float = 60) -> str:
    """What the worker logged as the task's return value once it ran."""
    pattern = re.compile(
        rf"Task checkout\.tasks\.bill_subscription\[{task_id}\] succeeded in [^:]*: (.*)"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pattern.search(log.read_text(errors="replace"))
        if found:
            return found.group(1).strip()
        failed = f"bill_subscription[{task_id}] raised"
        assert failed not in log.read_text(errors="replace"), log.read_text()[-3000:]
        time.sleep(0.1)
    raise AssertionError(f"the worker did not run {task_id}:\n{log.read_text()[-3000:]}")


def periods(subscription: Subscription) -> list[tuple[int | None, str]]:
    return sorted(Charge.objects.filter(subscription=subscription).values_list("period", "status"))


def test_a_live_worker_skips_a_suspended_merchant_and_bills_again_after_reactivation(
    merchant: Merchant, token: Token, api_client: APIClient, worker_log: Path
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
    # given the worker bills period 0 as beat would have it
    due = at("2027-01-31").isoformat()
    first = bill_subscription.delay(subscription.pk, due)
    charge_id = task_result(worker_log, first.id)
    assert periods(subscription) == [(0, "succeeded")]
    assert charge_id == repr(Charge.objects.get(subscription=subscription).pk)

    # when the merchant is suspended with period 1's renewal already queued for the worker
    merchant_suspend(merchant=merchant, actor="test", reason="fraud review")
    renewal = bill_subscription.delay(subscription.pk, at("2027-02-28").isoformat())

    # then the worker runs it and charges nothing; the beat task enqueues nothing either
    assert task_result(worker_log, renewal.id) == "None"
    assert billing_enqueue_due(at("2027-03-01").isoformat()) == 0
    assert periods(subscription) == [(0, "succeeded")]
    assert SandboxLedgerEntry.objects.count() == 1
    # and its API writes are refused, its reads still answered
    writes = [
        api_client.delete(
            f"/api/v1/subscriptions/{subscription.pk}", HTTP_IDEMPOTENCY_KEY=secrets.token_hex(8)
        ),
        api_client.post(
            "/api/v1/charges",
            {"token": token.id, "amount": 900, "currency": "EUR"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=secrets.token_hex(8),
        ),
    ]
    for refused in writes:
        assert refused.status_code == 403, refused.content
        assert refused.json()["code"] == "merchant_suspended"
    assert api_client.get(f"/api/v1/subscriptions/{subscription.pk}").status_code == 200
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE

    # when it is reactivated on 10 March
    NOW[0] = at("2027-03-10")
    merchant_reactivate(merchant=merchant, actor="test")

    # then February is not back-billed: the next renewal is the period starting 31 March,
    # and the worker bills it
    subscription.refresh_from_db()
    assert subscription.next_billing_at == at("2027-03-31")
    stale = bill_subscription.delay(subscription.pk, at("2027-03-10").isoformat())
    assert task_result(worker_log, stale.id) == "None"
    resumed = bill_subscription.delay(subscription.pk, at("2027-03-31").isoformat())
    assert task_result(worker_log, resumed.id) != "None"
    assert periods(subscription) == [(0, "succeeded"), (2, "succeeded")]
    assert SandboxLedgerEntry.objects.count() == 2
