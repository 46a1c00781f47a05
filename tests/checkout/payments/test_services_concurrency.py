"""50 concurrent POST /api/v1/charges with one Idempotency-Key against real gunicorn servers:
exactly one charge; every other answer is the replay or a 409."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from checkout.payments.models import Charge
from checkout.payments.processors.models import SandboxLedgerEntry
from tests.factories import TokenFactory
from tests.support.servers import gunicorn
from vault.merchants import api_key_create
from vault.models import Merchant

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CONCURRENCY = 50
# Enough latency at the processor that many requests arrive while the first is still running.
SERVER_ENV = {"PROCESSOR_SANDBOX_LATENCY_MS": "300", "API_THROTTLE_RATE": "100000/second"}


# When each answer's request was sent and its answer received (``time.monotonic``).
timings: dict[int, tuple[float, float]] = {}


def fire(
    urls: list[str], cafile: Path, secret: str, body: dict[str, object]
) -> list[tuple[int, dict[str, str], dict]]:
    """POST ``body`` CONCURRENCY times at once, spread over ``urls``; all answers."""
    barrier = threading.Barrier(CONCURRENCY)
    answers: list[tuple[int, dict[str, str], dict]] = []
    timings.clear()
    lock = threading.Lock()
    context = ssl.create_default_context(cafile=str(cafile))
    payload = json.dumps(body)

    def one(index: int) -> None:
        target = urlsplit(urls[index % len(urls)])
        connection = http.client.HTTPSConnection(
            str(target.hostname), target.port, context=context, timeout=60
        )
        # Sync workers accept one connection each: connecting first would hold them idle.
        barrier.wait()
        connection.request(
            "POST",
            "/api/v1/charges",
            body=payload,
            headers={
                "Authorization": f"Bearer {secret}",
                "Content-Type": "application/json",
                "Idempotency-Key": "order-42",
            },
        )
        sent = time.monotonic()
        response = connection.getresponse()
        answer = (response.status, dict(response.getheaders()), json.loads(response.read()))
        connection.close()
        with lock:
            answers.append(answer)
            timings[id(answer)] = (sent, time.monotonic())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def check(answers: list[tuple[int, dict[str, str], dict]]) -> None:
    assert len(answers) == CONCURRENCY
    charge = Charge.objects.get()  # exactly one
    assert charge.status == "succeeded"
    assert SandboxLedgerEntry.objects.filter(idempotency_key=charge.id).count() == 1
    assert SandboxLedgerEntry.objects.count() == 1
    originals = [a for a in answers if a[0] == 201 and "Idempotent-Replayed" not in a[1]]
    replays = [a for a in answers if a[0] == 201 and a[1].get("Idempotent-Replayed") == "true"]
    in_use = [a for a in answers if a[0] == 409]
    assert len(originals) == 1
    assert len(originals) + len(replays) + len(in_use) == CONCURRENCY
    assert {a[2]["id"] for a in originals + replays} == {charge.id}
    assert all(a[2]["code"] == "idempotency_key_in_use" for a in in_use)
    # The race is real: some requests were sent before the first one was answered (they are
    # answered 409 while it runs, or with its answer once they reach the key after it).
    first_answered = timings[id(originals[0])][1]
    assert any(timings[id(a)][0] < first_answered for a in replays + in_use)


def test_fifty_concurrent_posts_one_server(merchant: Merchant, tls_cert: tuple[Path, Path]) -> None:
    secret = api_key_create(merchant=merchant).secret
    token = TokenFactory.create(merchant=merchant)

    with gunicorn(cert=tls_cert, workers=4, env=SERVER_ENV) as server:
        answers = fire(
            [server.url],
            tls_cert[0],
            secret,
            {"token": token.id, "amount": 2500, "currency": "EUR"},
        )

    check(answers)


def test_fifty_concurrent_posts_two_servers_one_database(
    merchant: Merchant, tls_cert: tuple[Path, Path]
) -> None:
    secret = api_key_create(merchant=merchant).secret
    token = TokenFactory.create(merchant=merchant)

    with ExitStack() as stack:
        servers = [
            stack.enter_context(gunicorn(cert=tls_cert, workers=3, env=SERVER_ENV))
            for _ in range(2)
        ]
        answers = fire(
            [s.url for s in servers],
            tls_cert[0],
            secret,
            {"token": token.id, "amount": 2500, "currency": "EUR"},
        )

    check(answers)
    # Both servers answered.
    assert len({a[1].get("X-Request-ID") for a in answers}) == CONCURRENCY


def test_processor_timeout_on_a_real_server_then_reconcile_gives_one_charge(
    merchant: Merchant, tls_cert: tuple[Path, Path]
) -> None:
    import subprocess
    import sys

    from tests.support.servers import ROOT, server_env

    secret = api_key_create(merchant=merchant).secret
    token = TokenFactory.create(merchant=merchant)
    body = json.dumps({"token": token.id, "amount": 4200, "currency": "EUR"})
    headers = {
        "Authorization": f"Bearer {secret}",
        "Content-Type": "application/json",
        "Idempotency-Key": "order-timeout",
    }
    context = ssl.create_default_context(cafile=str(tls_cert[0]))

    def post(url: str) -> tuple[int, dict]:
        target = urlsplit(url)
        connection = http.client.HTTPSConnection(str(target.hostname), target.port, context=context)
        connection.request("POST", "/api/v1/charges", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())

    # The processor records the charge but its answer is lost.
    with gunicorn(cert=tls_cert, env={"PROCESSOR_SANDBOX_FAULT": "timeout_after"}) as server:
        first = post(server.url)
        retry = post(server.url)

    reconcile = subprocess.run(
        [sys.executable, "manage.py", "reconcile_charges"],
        cwd=ROOT,
        env=server_env({"CHARGE_RECONCILE_AFTER_SECONDS": "0"}),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert first[0] == 202 and first[1]["status"] == "pending"
    assert retry == first  # the retry replays the first answer, it does not charge again
    assert reconcile.returncode == 0, reconcile.stderr
    assert "reconciled 1" in reconcile.stdout
    charge = Charge.objects.get()
    assert charge.status == "succeeded"
    assert SandboxLedgerEntry.objects.get().idempotency_key == charge.id
