"""Checkout benches.

- ``checkout.charges_api``: charges/s through ``POST /api/v1/charges`` on a real gunicorn
  server (2 sync workers, a fresh Idempotency-Key per request, sandbox processor without
  latency), next to the bare DRF insert (tests/bench/urls.py) on the same server, same run.
- ``checkout.billing``: due subscriptions billed per second by two Celery worker processes on
  Redis over 10,000 subscriptions, next to one in-process ``run_billing`` pass in the same run.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import connection

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_bill, subscriptions_due
from tests.bench.registry import BenchContext, bench, timed
from tests.support.load import run_load
from tests.support.servers import celery_workers, gunicorn
from vault.cards import card_validate
from vault.envelope import data_keys
from vault.merchants import api_key_create, merchant_create
from vault.services import token_create

CHARGES = int(os.environ.get("BENCH_CHARGES", "1000"))
SUBSCRIPTIONS = int(os.environ.get("BENCH_SUBSCRIPTIONS", "10000"))
WORKERS = 2  # gunicorn sync workers, one per core (ARCHITECTURE.md §8)
# A public test card (the bench lives under tests/, like every test card number).
CARD = "4242424242424242"


def _token(merchant: Any) -> Any:
    card = card_validate(number=CARD, exp_month=12, exp_year=2034, require_cvc=False)
    return token_create(merchant=merchant, card=card, actor="bench")


@bench("checkout.charges_api")
def charges_api_bench(ctx: BenchContext) -> None:
    data_keys.clear()
    merchant = merchant_create(name="Bench Charges").in_mode(False)
    secret = api_key_create(merchant=merchant).secret
    token = _token(merchant)
    body = json.dumps({"token": token.id, "amount": 1999, "currency": "EUR"}).encode()

    def headers() -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}", "Idempotency-Key": secrets.token_hex(16)}

    env = {
        "ROOT_URLCONF": "tests.bench.urls",
        "API_THROTTLE_RATE": "1000000/second",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "LOG_LEVEL": "WARNING",
    }
    ctx.row("path (gunicorn, plain HTTP)", "req/s", "× baseline", "p50 ms", "p99 ms", "2xx")
    with gunicorn(cert=None, workers=WORKERS, env=env) as server:
        for connections in (1, 16):
            bare = run_load(
                f"{server.url}/bench/bare-insert",
                [b"{}"] * CHARGES,
                connections=connections,
                content_type="application/json",
            )
            charges = run_load(
                f"{server.url}/api/v1/charges",
                [body] * CHARGES,
                connections=connections,
                content_type="application/json",
                headers=headers,
            )
            for label, result, baseline in (
                (f"bare DRF insert, {connections} conn", bare, bare.rate),
                (f"POST /api/v1/charges, {connections} conn", charges, bare.rate),
            ):
                ok = sum(n for status, n in result.statuses.items() if status == 201)
                ctx.row(
                    label,
                    f"{result.rate:,.0f}",
                    f"{result.rate / baseline:.2f}",
                    f"{result.p50_ms:.1f}",
                    f"{result.p99_ms:.1f}",
                    f"{ok}/{result.requests}"
                    + ("" if ok == result.requests else f" {result.statuses}"),
                )


def _subscriptions(merchant: Any, count: int, due: datetime) -> list[str]:
    tokens = [_token(merchant) for _ in range(20)]
    Subscription.objects.bulk_create(
        [
            Subscription(
                merchant=merchant,
                livemode=False,
                token=tokens[i % len(tokens)],
                amount=500,
                currency="EUR",
                interval="month",
                anchor=due,
                next_billing_at=due,
                created_at=due,
            )
            for i in range(count)
        ],
        batch_size=1000,
    )
    return list(Subscription.objects.filter(merchant=merchant).values_list("pk", flat=True))


def _wait(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError("billing did not finish in time")
        time.sleep(0.2)


@bench("checkout.billing")
def billing_bench(ctx: BenchContext) -> None:
    broker = os.environ.get("REDIS_URL")
    if not broker:
        ctx.row("checkout.billing skipped: set REDIS_URL (the workers need a broker)")
        return
    from checkout.tasks import billing_enqueue_due

    data_keys.clear()
    due = datetime(2030, 1, 31, tzinfo=UTC)
    baseline_count = max(200, SUBSCRIPTIONS // 5)

    # Baseline: one process bills due subscriptions itself (what cron + run_billing does).
    inline = _subscriptions(
        merchant_create(name="Bench inline").in_mode(False), baseline_count, due
    )
    with timed() as t:
        for subscription_id in subscriptions_due(now=due, limit=len(inline)):
            subscription_bill(subscription_id=subscription_id, now=due)
    baseline = len(inline) / t.seconds

    merchant = merchant_create(name="Bench workers").in_mode(False)
    _subscriptions(merchant, SUBSCRIPTIONS, due)
    queue = f"tessera-bench-{secrets.token_hex(4)}"
    logs = [Path(tempfile.mkstemp(prefix=f"bench-worker{i}-")[1]) for i in (1, 2)]
    remaining = Subscription.objects.filter(merchant=merchant, next_billing_at__lte=due)
    in_flight = Subscription.objects.filter(merchant=merchant, next_billing_at=None)
    with celery_workers(broker=broker, queue=queue, logs=logs, env={"LOG_LEVEL": "WARNING"}):
        connection.close()
        with timed() as t:
            billing_enqueue_due(due.isoformat(), SUBSCRIPTIONS)
            _wait(lambda: not remaining.exists() and not in_flight.exists(), 1800)
        rate = SUBSCRIPTIONS / t.seconds
    ctx.row("due subscriptions billed", "subs/s", "× baseline")
    ctx.row(f"baseline: 1 process, run_billing ({len(inline):,})", f"{baseline:,.0f}", "1.00")
    ctx.row(
        f"2 Celery workers on Redis ({SUBSCRIPTIONS:,})", f"{rate:,.0f}", f"{rate / baseline:.2f}"
    )
