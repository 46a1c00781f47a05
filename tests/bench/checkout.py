"""Checkout benches.

- ``checkout.charges_api``: charges/s through ``POST /api/v1/charges`` on a real gunicorn
  server (2 sync workers, a fresh Idempotency-Key per request, sandbox processor without
  latency), next to the bare DRF insert (tests/bench/urls.py) on the same server, same run.
- ``checkout.billing``: due subscriptions billed per second by one and by two Celery worker
  processes on Redis (10,000 fresh subscriptions each), next to the same workers running a
  claim-only renewal with no charge (``billing_floor.py``), the floor on this machine; plus
  queries and commits per renewal. ``make bench BENCH_ARGS=checkout.billing``.
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
from django.db.models import Q
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_bill
from tests.bench.registry import BenchContext, bench, timed
from tests.support.commits import count_commits
from tests.support.load import run_load
from tests.support.servers import celery_workers, gunicorn
from vault.cards import card_validate
from vault.envelope import data_keys
from vault.merchants import api_key_create, merchant_create
from vault.services import token_create

CHARGES = int(os.environ.get("BENCH_CHARGES", "1000"))
SUBSCRIPTIONS = int(os.environ.get("BENCH_SUBSCRIPTIONS", "10000"))
FLOOR_SUBSCRIPTIONS = int(os.environ.get("BENCH_BILLING_FLOOR_SUBSCRIPTIONS", "4000"))
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
    rates: dict[int, tuple[float, float]] = {}
    with gunicorn(cert=None, workers=WORKERS, env=env) as server:
        for connections in (1, 16):
            bare = run_load(
                f"{server.url}/bench/bare-insert",
                [b"{}"] * CHARGES,
                connections=connections,
                content_type="application/json",
            )
            floor = run_load(
                f"{server.url}/bench/charge-floor",
                [b"{}"] * CHARGES,
                connections=connections,
                content_type="application/json",
                headers=headers,
            )
            statements = run_load(
                f"{server.url}/bench/charge-statements-floor",
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
            rates[connections] = (bare.rate, charges.rate)
            for label, result, baseline in (
                (f"bare DRF insert, {connections} conn", bare, bare.rate),
                (f"floor: key + 3 commits, {connections} conn", floor, bare.rate),
                (f"floor: a charge's 13 statements, {connections} conn", statements, bare.rate),
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

    (bare_1, charges_1), (bare_16, charges_16) = rates[1], rates[16]
    ctx.row(
        "scaling 16 ÷ 1 conn: charges vs bare",
        f"{charges_16 / charges_1:.2f}",
        f"{bare_16 / bare_1:.2f}",
        f"{(charges_16 / charges_1) / (bare_16 / bare_1):.2f}",
    )
    _commits_per_charge(ctx, secret=secret, token_id=token.id, count=min(CHARGES, 200))
    ctx.row(
        "goal: charges ≥ 0.40× bare at 1 and 16 conn; 2 commits/charge; on PostgreSQL "
        "(charges 16÷1) ≥ 0.8× (bare 16÷1)"
    )


def _commits_per_charge(ctx: BenchContext, *, secret: str, token_id: str, count: int) -> None:
    """Commits per ``POST /api/v1/charges``, counted in-process on the same code (the
    sandbox's ledger commit is the processor's; the inline sealer's, without a broker, is a
    batch of many charges' audit events, at most one a second per process: both counted
    apart)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = {"token": token_id, "amount": 1999, "currency": "EUR"}
    with override_settings(API_THROTTLE_RATE="1000000/second"):
        assert client.post("/api/v1/charges", body, format="json").status_code == 201  # warm
        with count_commits() as commits:
            for _ in range(count):
                key = secrets.token_hex(16)
                response = client.post(
                    "/api/v1/charges", body, format="json", HTTP_IDEMPOTENCY_KEY=key
                )
                assert response.status_code == 201, response.content
    ctx.row(
        f"commits per charge, ours ({count} in-process)",
        f"{commits.total / count:.3f}",
        "",
        "",
        "",
        f"processor={commits.processor / count:.2f} sealer={commits.sealer / count:.3f}",
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


def _commits_per_renewal(ctx: BenchContext, due: datetime) -> None:
    """Queries and commits of one renewal (``subscription_bill``), counted in-process."""
    merchant = merchant_create(name="Bench renewal").in_mode(False)
    ids = _subscriptions(merchant, 21, due)
    subscription_bill(subscription_id=ids[0], now=due)  # warm caches (data key, processor)
    with count_commits() as commits, CaptureQueriesContext(connection) as queries:
        for subscription_id in ids[1:]:
            subscription_bill(subscription_id=subscription_id, now=due)
    renewals = len(ids) - 1
    ctx.row(
        "one renewal (subscription_bill)",
        f"{len(queries) / renewals:.1f} queries",
        f"{commits.total / renewals:.1f} commits",
    )


def _workers_rate(
    *, workers: int, count: int, due: datetime, broker: str, claim_only: bool = False
) -> float:
    """Due subscriptions per second for ``workers`` Celery worker processes on fresh rows."""
    from checkout.tasks import bill_subscription
    from tests.bench.billing_floor import billing_claim_only

    name = f"Bench {'floor' if claim_only else 'billing'} x{workers} {secrets.token_hex(2)}"
    merchant = merchant_create(name=name).in_mode(False)
    ids = _subscriptions(merchant, count, due)
    queue = f"tessera-bench-{secrets.token_hex(4)}"
    logs = [Path(tempfile.mkstemp(prefix=f"bench-worker{i}-")[1]) for i in range(workers)]
    unfinished = Subscription.objects.filter(merchant=merchant).filter(
        Q(next_billing_at__lte=due) | Q(next_billing_at=None)
    )
    task = billing_claim_only if claim_only else bill_subscription
    with celery_workers(
        broker=broker,
        queue=queue,
        logs=logs,
        env={"LOG_LEVEL": "WARNING"},
        include=["tests.bench.billing_floor"],
    ):
        connection.close()
        with timed() as t:
            for subscription_id in ids:  # what billing_enqueue_due sends, one task each
                task.delay(subscription_id, due.isoformat())
            _wait(lambda: not unfinished.exists(), 3600)
    for log in logs:
        log.unlink(missing_ok=True)
    return count / t.seconds


@bench("checkout.billing")
def billing_bench(ctx: BenchContext) -> None:
    """1 and 2 Celery workers billing ``SUBSCRIPTIONS`` due renewals each (fresh rows), and
    the same workers running a claim-only renewal (no charge): the floor that shows how much
    of a shortfall from 2× belongs to the machine (workers, PostgreSQL and Redis on two cores)
    rather than to billing."""
    broker = os.environ.get("REDIS_URL")
    if not broker:
        ctx.row("checkout.billing skipped: set REDIS_URL (the workers need a broker)")
        return
    data_keys.clear()
    due = datetime(2030, 1, 31, tzinfo=UTC)
    _commits_per_renewal(ctx, due)
    rates = {
        (claim_only, workers): _workers_rate(
            workers=workers,
            count=FLOOR_SUBSCRIPTIONS if claim_only else SUBSCRIPTIONS,
            due=due,
            broker=broker,
            claim_only=claim_only,
        )
        for claim_only in (False, True)
        for workers in (1, 2)
    }
    ctx.row("due subscriptions, Celery workers on Redis", "subs/s", "× 1 worker")
    for claim_only, label, count in (
        (False, "billing (sandbox, no latency)", SUBSCRIPTIONS),
        (True, "floor: claim + advance, no charge", FLOOR_SUBSCRIPTIONS),
    ):
        one = rates[(claim_only, 1)]
        for workers in (1, 2):
            rate = rates[(claim_only, workers)]
            ctx.row(f"{label}, {workers} worker(s), {count:,}", f"{rate:,.1f}", f"{rate / one:.2f}")
    billing = rates[(False, 2)] / rates[(False, 1)]
    floor = rates[(True, 2)] / rates[(True, 1)]
    ctx.row("2-worker scaling: billing ÷ floor", "", f"{billing / floor:.2f}")
