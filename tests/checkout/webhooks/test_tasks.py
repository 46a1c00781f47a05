"""A real Celery worker process on Redis delivers the events of a charge, a renewal, a failed
renewal and a token revocation to a receiver on 127.0.0.1, which checks every signature with
the shipped ``verify_signature`` (answering 400 otherwise)."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_create
from checkout.payments.services import charge_create
from checkout.tasks import bill_subscription
from checkout.webhooks.models import Event, WebhookAttempt, WebhookDelivery
from checkout.webhooks.services import webhook_endpoint_create
from tests.checkout.webhooks.receiver import Receiver
from tests.factories import TokenFactory
from tests.support.servers import celery_workers
from vault.models import Merchant
from vault.services import token_revoke

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a Redis broker (REDIS_URL)"),
]


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Path]:
    """One Celery worker process on a queue of its own; the test process only sends to it."""
    log = tmp_path / "worker.log"
    queue = f"tessera-test-hooks-{secrets.token_hex(4)}"
    with celery_workers(broker=os.environ["REDIS_URL"], queue=queue, logs=[log]):
        yield log


def _wait_for(receiver: Receiver, wanted: set[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        got = {json.loads(r.body)["type"] for r in receiver.accepted()}
        pending = WebhookDelivery.objects.filter(status="pending").count()
        if wanted <= got and pending == 0:
            return
        assert time.monotonic() < deadline, f"still missing {wanted - got}, {pending} pending"
        time.sleep(0.1)


def test_a_worker_delivers_charge_renewal_failed_renewal_and_revocation_events(
    merchant: Merchant, receiver: Receiver, worker: Path
) -> None:
    # given an endpoint for every event type, whose secret the receiver knows
    endpoint, secret = webhook_endpoint_create(
        merchant=merchant, url=receiver.url, enabled_events=["*"]
    )
    receiver.secrets.append(secret)
    now = datetime.now(UTC)
    good = TokenFactory.create(merchant=merchant)
    # a card that expires at the end of this month: its renewal next month fails
    expiring = TokenFactory.create(merchant=merchant, exp_month=now.month, exp_year=now.year)

    # when a charge is made here, and subscriptions are billed by the worker
    charge = charge_create(merchant=merchant, token_id=good.id, amount=1999, currency="EUR")
    renewing = subscription_create(
        merchant=merchant, token_id=good.id, amount=900, currency="EUR", interval="month"
    )
    failing = subscription_create(
        merchant=merchant, token_id=expiring.id, amount=900, currency="EUR", interval="month"
    )
    _wait_for(receiver, {"charge.succeeded", "subscription.created", "subscription.renewed"})
    for subscription in (renewing, failing):  # period 0 was billed by the worker; now period 1
        subscription.refresh_from_db()
        assert subscription.next_billing_at is not None
        bill_subscription.delay(subscription.id, subscription.next_billing_at.isoformat())
    _wait_for(receiver, {"charge.failed", "subscription.past_due"})
    token_revoke(token=good, actor="test", reason="customer asked")
    _wait_for(receiver, {"token.revoked"})

    # then every event of the merchant reached the receiver, each signature verified
    events = {e.id: e for e in Event.objects.filter(merchant=merchant)}
    accepted = [json.loads(r.body) for r in receiver.accepted()]
    assert {doc["id"] for doc in accepted} == set(events)
    assert all(r.verified_by == [0] for r in receiver.requests)
    assert all(r.status == 200 for r in receiver.requests)
    for doc in accepted:
        assert (
            json.dumps(doc, separators=(",", ":"), ensure_ascii=False) == events[doc["id"]].payload
        )
    by_type = {doc["type"]: doc["data"]["object"] for doc in accepted}
    assert by_type["charge.failed"]["failure_code"] == "token_expired"
    assert by_type["token.revoked"]["id"] == good.id
    assert any(
        d["type"] == "charge.succeeded" and d["data"]["object"]["id"] == charge.id for d in accepted
    )
    renewed = [
        d for d in accepted
        if d["type"] == "subscription.renewed" and d["data"]["object"]["id"] == renewing.id
    ]  # fmt: skip
    assert len(renewed) == 2  # period 0, then the renewal
    assert Subscription.objects.get(pk=failing.id).status == "past_due"
    # delivered by the worker: one attempt per delivery, recorded, all accepted
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == len(events)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert WebhookAttempt.objects.count() == len(events)
    assert "checkout.webhooks.deliver" in worker.read_text(errors="replace")
