"""A simulated year of billing by two real Celery workers on Redis plus concurrent
``run_billing`` passes, every task delivered twice: exactly one charge per period, month-end
clamping and dunning as specified. Time is driven by the ``now`` argument, never by sleeping."""

from __future__ import annotations

import io
import os
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis
from django.core.management import call_command
from django.db import connection
from django.db.models import Q

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_cancel, subscription_create
from checkout.payments.models import Charge
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.tasks import billing_enqueue_due
from tests.checkout.conftest import DECLINES, at
from tests.factories import TokenFactory
from tests.support.servers import celery_workers
from vault.models import Merchant
from vault.services import token_revoke

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a Redis broker (REDIS_URL)"),
]

END = at("2028-01-31T23:59:59")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[str, list[Path]]]:
    """Two Celery worker processes on a queue of their own; the test process sends to it."""
    queue = f"tessera-test-{secrets.token_hex(4)}"
    logs = [tmp_path / f"worker{i}.log" for i in (1, 2)]
    with celery_workers(broker=os.environ["REDIS_URL"], queue=queue, logs=logs):
        yield queue, logs


def run_billing_pass(now: datetime, outputs: list[str]) -> None:
    out = io.StringIO()
    try:
        call_command("run_billing", f"--now={now.isoformat()}", "--no-reconcile", stdout=out)
    finally:
        connection.close()
    outputs.append(out.getvalue())


def settle(now: datetime, timeout: float = 60) -> None:
    """Wait until every live subscription is scheduled after ``now`` (nothing due or in flight)."""
    deadline = time.monotonic() + timeout
    while True:
        live = Subscription.objects.exclude(status="canceled")
        busy = (
            live.filter(next_billing_at__lte=now).count()
            + live.filter(next_billing_at=None).count()
        )
        if busy == 0 and not Charge.objects.filter(status="pending").exists():
            return
        if time.monotonic() >= deadline:
            stuck = list(
                live.filter(Q(next_billing_at__lte=now) | Q(next_billing_at=None)).values(
                    "id", "status", "period", "next_billing_at", "failed_attempts"
                )
            )
            pending = list(Charge.objects.filter(status="pending").values("id", "subscription_id"))
            raise AssertionError(f"billing at {now} did not finish: {stuck} {pending}")
        time.sleep(0.05)


def test_a_year_of_billing_with_two_workers_and_concurrent_passes(
    merchant: Merchant, workers: tuple[str, list[Path]]
) -> None:
    queue, logs = workers
    good = TokenFactory.create(merchant=merchant)
    poor = TokenFactory.create(merchant=merchant, number=DECLINES["insufficient_funds"])
    lost = TokenFactory.create(merchant=merchant)

    def sub(token, interval: str, start: str, count: int = 1) -> Subscription:
        return subscription_create(
            merchant=merchant,
            token_id=token.id,
            amount=1000,
            currency="EUR",
            interval=interval,
            interval_count=count,
            start=at(start),
            now=at("2027-01-01"),
        )

    month_end = [sub(good, "month", "2027-01-31") for _ in range(3)]
    day_30 = sub(good, "month", "2027-01-30")
    weekly = [sub(good, "week", "2027-01-04") for _ in range(3)]
    fortnightly = sub(good, "week", "2027-01-06", count=2)
    yearly = [sub(good, "year", "2027-01-15"), sub(good, "year", "2027-02-28")]
    dunned = sub(poor, "month", "2027-01-31")
    revoked = sub(lost, "month", "2027-01-31")
    quitter = sub(good, "month", "2027-01-31")

    outputs: list[str] = []
    steps = 0
    revoked_at = canceled_at = None
    while True:
        now = (
            Subscription.objects.exclude(next_billing_at=None)
            .order_by("next_billing_at")
            .values_list("next_billing_at", flat=True)
            .first()
        )
        if now is None or now > END:
            break
        if revoked_at is None and now >= at("2027-06-15"):
            token_revoke(token=lost, actor="test", reason="card reported lost")
            revoked_at = now
        if canceled_at is None and now >= at("2027-09-01"):
            subscription_cancel(merchant=merchant, subscription_id=quitter.id, at_period_end=True)
            canceled_at = now
        # At-least-once delivery, for real: every due subscription is enqueued twice…
        billing_enqueue_due(now.isoformat())
        billing_enqueue_due(now.isoformat())
        # …while two cron-style passes bill the same subscriptions in this process.
        passes = [threading.Thread(target=run_billing_pass, args=(now, outputs)) for _ in range(2)]
        for thread in passes:
            thread.start()
        for thread in passes:
            thread.join()
        settle(now)
        steps += 1

    redis_client = redis.Redis.from_url(os.environ["REDIS_URL"])
    deadline = time.monotonic() + 60
    while redis_client.llen(queue):
        assert time.monotonic() < deadline
        time.sleep(0.1)

    def dates(subscription: Subscription, status: str = "succeeded") -> list[str]:
        return [
            c.created_at.date().isoformat()
            for c in subscription.charges.filter(status=status).order_by("created_at")
        ]

    # Exactly one successful charge per period, periods consecutive, nothing else charged.
    per_period = Counter(
        Charge.objects.filter(status="succeeded").values_list("subscription_id", "period")
    )
    assert set(per_period.values()) == {1}
    assert Charge.objects.filter(status="pending").count() == 0
    assert (
        SandboxLedgerEntry.objects.count()
        == Charge.objects.exclude(failure_code__startswith="token_").count()
    )
    assert set(SandboxLedgerEntry.objects.values_list("idempotency_key", flat=True)) == set(
        Charge.objects.exclude(failure_code__startswith="token_").values_list("id", flat=True)
    )

    month_ends = [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
        "2027-05-31",
        "2027-06-30",
        "2027-07-31",
        "2027-08-31",
        "2027-09-30",
        "2027-10-31",
        "2027-11-30",
        "2027-12-31",
        "2028-01-31",
    ]
    for subscription in month_end:
        assert dates(subscription) == month_ends
    assert dates(day_30) == [
        "2027-01-30",
        "2027-02-28",
        "2027-03-30",
        "2027-04-30",
        "2027-05-30",
        "2027-06-30",
        "2027-07-30",
        "2027-08-30",
        "2027-09-30",
        "2027-10-30",
        "2027-11-30",
        "2027-12-30",
        "2028-01-30",
    ]
    for subscription in weekly:
        assert len(dates(subscription)) == 57  # 4 Jan 2027 … 31 Jan 2028, every Monday
        assert dates(subscription)[:2] == ["2027-01-04", "2027-01-11"]
    assert len(dates(fortnightly)) == 28  # every other Wednesday from 6 Jan 2027
    assert dates(fortnightly)[-1] == "2028-01-19"
    assert dates(yearly[0]) == ["2027-01-15", "2028-01-15"]
    assert dates(yearly[1]) == ["2027-02-28"]

    dunned.refresh_from_db()
    assert dates(dunned, "failed") == ["2027-01-31", "2027-02-01", "2027-02-03", "2027-02-05"]
    assert (dunned.status, dunned.status_reason) == ("canceled", "insufficient_funds")

    revoked.refresh_from_db()
    assert dates(revoked) == month_ends[:5]  # January to May; revoked on 15 June
    assert dates(revoked, "failed") == ["2027-06-30", "2027-07-01", "2027-07-03", "2027-07-05"]
    assert set(revoked.charges.filter(status="failed").values_list("failure_code", flat=True)) == {
        "token_revoked"
    }
    assert (revoked.status, revoked.status_reason) == ("canceled", "token_revoked")

    quitter.refresh_from_db()
    assert dates(quitter) == month_ends[:8]
    assert (quitter.status, quitter.canceled_at) == ("canceled", at("2027-09-30"))

    # Both kinds of biller really did bill: the workers and the passes.
    worker_charges = sum(
        len(re.findall(r"succeeded in [0-9.]+s: 'ch_", log.read_text())) for log in logs
    )
    billed = [re.search(r"billed (\d+)", out) for out in outputs]
    pass_charges = sum(int(match.group(1)) for match in billed if match)
    assert worker_charges > 0 and pass_charges > 0
    assert worker_charges + pass_charges == Charge.objects.count()
    assert steps > 60
