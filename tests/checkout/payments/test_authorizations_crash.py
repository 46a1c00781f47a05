"""A gunicorn worker killed (SIGKILL) in the middle of a capture, on a real server: the retry
with the same Idempotency-Key answers with the capture in flight, reconciliation finishes it,
and the sandbox ledger holds exactly one capture — whether the worker died before the
processor saw the capture or after the processor recorded it and before we did.

Before: the sandbox holds the capture in its latency (``PROCESSOR_SANDBOX_LATENCY_MS``) when
the worker is killed. After: the worker hangs once the processor's ledger row commits
(``tests.support.hang_settings``), and is killed there. Run on SQLite and on PostgreSQL
(``DATABASE_URL``).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from checkout.payments.authorizations import authorization_steps_reconcile
from checkout.payments.models import Charge
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.payments.services import charge_create
from checkout.webhooks.models import Event
from tests.factories import TokenFactory
from tests.support.servers import gunicorn
from vault.merchants import api_key_create
from vault.models import Merchant

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LOCK_SECONDS = 3  # the dead request's idempotency lock: the retry waits this out
HANG_SECONDS = 60  # far longer than the test waits: only our SIGKILL ends the request
BASE_ENV = {
    "DJANGO_SETTINGS_MODULE": "tests.support.hang_settings",
    "GUNICORN_TIMEOUT": str(2 * HANG_SECONDS),  # gunicorn's own timeout never fires
    "IDEMPOTENCY_LOCK_SECONDS": str(LOCK_SECONDS),
    "HANG_AFTER_COMMIT_SECONDS": str(HANG_SECONDS),
    "API_THROTTLE_RATE": "100000/second",
}
MOMENTS: dict[str, dict[str, str]] = {
    # killed while the capture is on its way to the processor: nothing captured there yet
    "before_the_processor": {"PROCESSOR_SANDBOX_LATENCY_MS": str(HANG_SECONDS * 1000)},
    # killed once the processor recorded the capture, before its answer was recorded here
    "after_the_processor": {"HANG_AFTER_COMMIT": "checkout.SandboxLedgerEntry"},
}


def _post(url: str, cafile: Path, secret: str, path: str, body: dict[str, Any], key: str) -> Any:
    """``(status, headers, body)``, or None when the connection died with the worker."""
    target = urlsplit(url)
    context = ssl.create_default_context(cafile=str(cafile))
    connection = http.client.HTTPSConnection(
        str(target.hostname), target.port, context=context, timeout=2 * HANG_SECONDS
    )
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={
                "Authorization": f"Bearer {secret}",
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            },
        )
        response = connection.getresponse()
        return response.status, dict(response.headers), json.loads(response.read())
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _get(url: str, cafile: Path, secret: str, path: str) -> tuple[int, dict[str, Any]]:
    target = urlsplit(url)
    context = ssl.create_default_context(cafile=str(cafile))
    connection = http.client.HTTPSConnection(
        str(target.hostname), target.port, context=context, timeout=30
    )
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {secret}"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _workers(master: int) -> list[int]:
    """The gunicorn master's worker processes (its children, from /proc)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _reached(moment: str, charge_id: str) -> Callable[[], bool]:
    if moment == "before_the_processor":
        return lambda: Charge.objects.filter(pk=charge_id, status="capturing").exists()
    return lambda: SandboxLedgerEntry.objects.filter(kind="capture").exists()


@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_a_worker_killed_mid_capture_then_retried_and_reconciled_captures_once(
    moment: str, merchant: Merchant, tls_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    secret = api_key_create(merchant=merchant).secret
    token = TokenFactory.create(merchant=merchant)
    held = charge_create(
        merchant=merchant, token_id=token.id, amount=5000, currency="EUR", capture=False
    )
    assert held.status == "requires_capture"
    path, body, key = f"/api/v1/charges/{held.id}/capture", {"amount": 3000}, "ship-1042"
    log = tmp_path / "gunicorn.log"

    with (
        gunicorn(
            cert=tls_cert, workers=1, env={**BASE_ENV, **MOMENTS[moment]}, log_path=log
        ) as server,
        ThreadPoolExecutor(1) as pool,
    ):

        def send(idempotency_key: str = key) -> Any:
            return _post(server.url, tls_cert[0], secret, path, body, idempotency_key)

        (worker,) = _workers(server.process.pid)
        first = pool.submit(send)
        # when the worker is killed exactly there
        _wait_for(_reached(moment, held.id), moment)
        os.kill(worker, signal.SIGKILL)
        died = first.result(timeout=30)
        _wait_for(lambda: len(_workers(server.process.pid)) == 1, "a new worker")
        # then the retry with the same key, once the dead request's lock lapsed, answers
        # with the capture it started, still in flight; any other capture is refused
        deadline = time.monotonic() + 10 * LOCK_SECONDS
        while (retry := send()) is None or retry[0] == 409:
            assert time.monotonic() < deadline, retry
            time.sleep(0.5)
        other = send("ship-1042-again")
        ledger_before = list(SandboxLedgerEntry.objects.filter(kind="capture"))
        # and reconciliation sends the same capture again, under its derived key
        later = timezone.now() + timedelta(hours=1)
        reconciled = authorization_steps_reconcile(cutoff=later, modes=[False], now=later)
        settled = _get(server.url, tls_cert[0], secret, f"/api/v1/charges/{held.id}")

    assert died is None  # the first request's connection died with its worker
    assert f"Worker (pid:{worker}) was sent SIGKILL" in log.read_text()
    assert "WORKER TIMEOUT" not in log.read_text()
    status, headers, answer = retry
    assert (status, answer["id"], answer["status"]) == (202, held.id, "capturing")
    assert headers["Idempotent-Replayed"] == "true"
    assert other is not None and other[0] == 409
    assert other[2]["code"] == "charge_capture_in_progress"
    # the processor saw the capture or not, as the moment says; reconciling finished it
    assert len(ledger_before) == (1 if moment == "after_the_processor" else 0)
    assert reconciled == 1
    charge = Charge.objects.get(pk=held.pk)
    assert (charge.status, charge.amount_captured) == ("succeeded", 3000)
    captures = SandboxLedgerEntry.objects.filter(kind="capture")
    assert [(c.idempotency_key, c.amount, c.approved) for c in captures] == [
        (f"{held.id}:capture", 3000, True)
    ]
    assert settled[0] == 200
    assert (settled[1]["status"], settled[1]["amount_captured"]) == ("succeeded", 3000)
    assert Event.objects.filter(type="charge.captured", object_id=held.id).count() == 1
