"""Concurrent captures of one authorization against real gunicorn servers (run it on
PostgreSQL with DATABASE_URL): one capture reaches the processor, every other request is
refused with 409 — whatever their Idempotency-Keys."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from checkout.payments.models import Charge
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.payments.services import charge_create
from tests.factories import TokenFactory
from tests.support.servers import gunicorn
from vault.merchants import api_key_create
from vault.models import Merchant

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CONCURRENCY = 24
# Latency at the processor long enough that captures reaching a worker still cold (its first
# request loads the URLconf and opens a connection) arrive while the first is in flight.
SERVER_ENV = {"PROCESSOR_SANDBOX_LATENCY_MS": "2000", "API_THROTTLE_RATE": "100000/second"}


def fire(urls: list[str], cafile: Path, secret: str, path: str) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(CONCURRENCY)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()
    context = ssl.create_default_context(cafile=str(cafile))

    def one(index: int) -> None:
        target = urlsplit(urls[index % len(urls)])
        connection = http.client.HTTPSConnection(
            str(target.hostname), target.port, context=context, timeout=60
        )
        barrier.wait()
        connection.request(
            "POST",
            path,
            body=json.dumps({"amount": 100 + index}),
            headers={
                "Authorization": f"Bearer {secret}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"ship-{index}",  # distinct: only the charge's state decides
            },
        )
        response = connection.getresponse()
        answer = (response.status, json.loads(response.read()))
        connection.close()
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def test_concurrent_captures_of_one_charge_make_one_capture(
    merchant: Merchant, tls_cert: tuple[Path, Path]
) -> None:
    secret = api_key_create(merchant=merchant).secret
    token = TokenFactory.create(merchant=merchant)
    held = charge_create(
        merchant=merchant, token_id=token.id, amount=5000, currency="EUR", capture=False
    )
    assert held.status == "requires_capture"

    with ExitStack() as stack:
        servers = [
            stack.enter_context(gunicorn(cert=tls_cert, workers=3, env=SERVER_ENV))
            for _ in range(2)
        ]
        answers = fire(
            [s.url for s in servers], tls_cert[0], secret, f"/api/v1/charges/{held.id}/capture"
        )

    assert len(answers) == CONCURRENCY
    captured = [body for status, body in answers if status == 200]
    refused = [body for status, body in answers if status == 409]
    assert len(captured) == 1
    assert len(refused) == CONCURRENCY - 1
    assert {body["code"] for body in refused} <= {
        "charge_capture_in_progress",
        "charge_already_captured",
    }
    # The race was real: some requests arrived while the capture was in flight.
    assert any(body["code"] == "charge_capture_in_progress" for body in refused)
    charge = Charge.objects.get(pk=held.pk)
    assert (charge.status, charge.amount_captured) == ("succeeded", captured[0]["amount_captured"])
    captures = SandboxLedgerEntry.objects.filter(kind="capture")
    assert [(c.idempotency_key, c.amount) for c in captures] == [
        (f"{held.id}:capture", charge.amount_captured)
    ]
