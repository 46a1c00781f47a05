"""Adyen delivering the same notifications at once to several real gunicorn servers (run it on
PostgreSQL with DATABASE_URL; SQLite serialises writers): each item is recorded and applied
once, and a capture confirmed and failed at the same moment converges to failed."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection

from checkout.payments.authorizations import charge_capture
from checkout.payments.models import Charge
from checkout.payments.processors.models import AdyenNotification
from checkout.payments.services import charge_create
from checkout.webhooks.models import Event
from tests.checkout.payments.processors.adyen_fake import HMAC_KEY, FakeAdyen, notification_body
from tests.checkout.payments.test_notification_outcomes import fake as fake
from tests.checkout.webhooks.conftest import tls_files as tls_files
from tests.support.servers import gunicorn
from vault.models import Merchant, Token

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CONCURRENCY = 16


def fire(urls: list[str], cafile: Path, bodies: list[dict[str, Any]]) -> list[int]:
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []
    lock = threading.Lock()

    def one(index: int) -> None:
        session = requests.Session()
        barrier.wait()
        response = session.post(
            f"{urls[index % len(urls)]}/processors/adyen/notifications",
            json=bodies[index],
            verify=str(cafile),
            timeout=60,
        )
        with lock:
            statuses.append(response.status_code if response.content == b"[accepted]" else -1)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_concurrent_deliveries_apply_each_item_once_and_converge(
    fake: FakeAdyen,
    merchant: Merchant,
    token: Token,
    tls_cert: tuple[Path, Path],
) -> None:
    held = charge_create(
        merchant=merchant, token_id=token.id, amount=3000, currency="EUR", capture=False
    )
    assert charge_capture(merchant=merchant, charge_id=held.id).status == "capturing"
    (capture,) = fake.queued
    item = capture["notificationItems"][0]["NotificationRequestItem"]
    capture_failed = notification_body(
        "CAPTURE_FAILED",
        psp=item["pspReference"],
        original=item["originalReference"],
        reference=item["merchantReference"],
        amount=item["amount"],
    )

    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                gunicorn(cert=tls_cert, workers=2, env={"ADYEN_HMAC_KEY": HMAC_KEY})
            )
            for _ in range(2)
        ]
        statuses = fire(
            [s.url for s in servers],
            tls_cert[0],
            [capture if i % 2 else capture_failed for i in range(CONCURRENCY)],
        )

    assert statuses == [200] * CONCURRENCY
    assert AdyenNotification.objects.count() == 2  # the capture and its failure, once each
    charge = Charge.objects.get(pk=held.pk)
    assert (charge.status, charge.amount_captured) == ("failed", 0)
    assert Event.objects.filter(type="charge.failed").count() == 1
    assert Event.objects.filter(type="charge.captured").count() <= 1  # if it came first
