"""Checkout benches.

- ``checkout.charges_api``: charges/s through ``POST /api/v1/charges`` on a real gunicorn
  server (TLS, 2 sync workers, a fresh Idempotency-Key per request, sandbox processor without
  latency), next to a bare DRF insert endpoint on the same server in the same run.
- ``checkout.billing``: due subscriptions billed per second by two Celery worker processes on
  Redis over 10,000 subscriptions, next to one in-process ``run_billing`` pass in the same run.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import connection

from checkout.models import Subscription
from checkout.services.subscriptions import subscription_bill, subscriptions_due
from payments_site.devtools import write_cert
from tests.bench.registry import BenchContext, bench, timed
from tests.support.servers import ROOT, gunicorn, server_env
from vault.cards import card_validate
from vault.envelope import data_keys
from vault.merchants import api_key_create, merchant_create
from vault.services import token_create

CHARGES = int(os.environ.get("BENCH_CHARGES", "1000"))
SUBSCRIPTIONS = int(os.environ.get("BENCH_SUBSCRIPTIONS", "10000"))
CLIENT_THREADS = 4
# A public test card (the bench lives under tests/, like every test card number).
CARD = "4242424242424242"


def _load(
    url: str, cafile: Path, path: str, secret: str, bodies: list[bytes], keyed: bool
) -> float:
    """Send every body once over CLIENT_THREADS keep-alive connections; requests/s."""
    host, port = url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=str(cafile))
    chunks = [bodies[i::CLIENT_THREADS] for i in range(CLIENT_THREADS)]
    failures: list[int] = []

    def worker(chunk: list[bytes]) -> None:
        conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=60)
        for body in chunk:
            headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
            if keyed:
                headers["Idempotency-Key"] = secrets.token_hex(16)
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 201:
                failures.append(response.status)
        conn.close()

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    with timed() as t:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed: {sorted(set(failures))}")
    return len(bodies) / t.seconds


def _token(merchant: Any) -> Any:
    card = card_validate(number=CARD, exp_month=12, exp_year=2034, require_cvc=False)
    return token_create(merchant=merchant, card=card, actor="bench")


@bench("checkout.charges_api")
def charges_api_bench(ctx: BenchContext) -> None:
    data_keys.clear()
    merchant = merchant_create(name="Bench Charges")
    secret = api_key_create(merchant=merchant).secret
    token = _token(merchant)
    body = json.dumps({"token": token.id, "amount": 1999, "currency": "EUR"}).encode()
    cert = write_cert(Path(tempfile.mkdtemp(prefix="bench-tls-")))
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.bench.settings",
        "API_THROTTLE_RATE": "1000000/second",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "LOG_LEVEL": "WARNING",
    }
    with gunicorn(cert=cert, workers=2, env=env) as server:
        _load(server.url, cert[0], "/bench/bare-insert", secret, [body] * 50, keyed=False)
        _load(server.url, cert[0], "/api/v1/charges", secret, [body] * 50, keyed=True)  # warm
        baseline = _load(server.url, cert[0], "/bench/bare-insert", secret, [body] * CHARGES, False)
        charges = _load(server.url, cert[0], "/api/v1/charges", secret, [body] * CHARGES, True)
    ctx.row(f"POST over TLS, {CLIENT_THREADS} clients", "req/s", "× baseline")
    ctx.row("baseline: bare DRF insert", f"{baseline:,.0f}", "1.00")
    ctx.row("POST /api/v1/charges (idempotent)", f"{charges:,.0f}", f"{charges / baseline:.2f}")


def _subscriptions(merchant: Any, count: int, due: datetime) -> list[str]:
    tokens = [_token(merchant) for _ in range(20)]
    Subscription.objects.bulk_create(
        [
            Subscription(
                merchant=merchant,
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
    from payments_site.celery import app

    data_keys.clear()
    due = datetime(2030, 1, 31, tzinfo=UTC)
    baseline_count = max(200, SUBSCRIPTIONS // 5)

    # Baseline: one process bills due subscriptions itself (what cron + run_billing does).
    inline = _subscriptions(merchant_create(name="Bench inline"), baseline_count, due)
    with timed() as t:
        for subscription_id in subscriptions_due(now=due, limit=len(inline)):
            subscription_bill(subscription_id=subscription_id, now=due)
    baseline = len(inline) / t.seconds

    merchant = merchant_create(name="Bench workers")
    _subscriptions(merchant, SUBSCRIPTIONS, due)
    queue = f"tessera-bench-{secrets.token_hex(4)}"
    env = server_env(
        {
            "CELERY_BROKER_URL": broker,
            "CELERY_QUEUE": queue,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "LOG_LEVEL": "WARNING",
        }
    )
    logs = [Path(tempfile.mkstemp(prefix=f"bench-worker{i}-")[1]) for i in (1, 2)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "payments_site",
                "worker",
                "--pool=solo",
                "-Q",
                queue,
                "-n",
                f"b{i}-{queue}@%h",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        for i, log in enumerate(logs, 1)
    ]
    previous = {k: app.conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue")}
    app.conf.update(task_always_eager=False, broker_url=broker, task_default_queue=queue)
    remaining = Subscription.objects.filter(merchant=merchant, next_billing_at__lte=due)
    in_flight = Subscription.objects.filter(merchant=merchant, next_billing_at=None)
    try:
        _wait(lambda: all("ready" in log.read_text(errors="replace") for log in logs), 60)
        connection.close()
        with timed() as t:
            billing_enqueue_due(due.isoformat(), SUBSCRIPTIONS)
            _wait(lambda: not remaining.exists() and not in_flight.exists(), 1800)
        rate = SUBSCRIPTIONS / t.seconds
    finally:
        app.conf.update(previous)
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        import redis

        redis.Redis.from_url(broker).delete(queue)
    ctx.row("due subscriptions billed", "subs/s", "× baseline")
    ctx.row(f"baseline: 1 process, run_billing ({len(inline):,})", f"{baseline:,.0f}", "1.00")
    ctx.row(
        f"2 Celery workers on Redis ({SUBSCRIPTIONS:,})", f"{rate:,.0f}", f"{rate / baseline:.2f}"
    )
