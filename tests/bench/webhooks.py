"""Webhook benches.

- ``webhooks.delivery``: deliveries/s of one in-process pass (``deliveries_run``: claim,
  resolve and vet, open the sealed secret, sign, POST over a new pinned connection, record the
  attempt) to a local receiver that checks every signature, next to bare ``http.client`` POSTs
  of the same body to the same receiver (new connection each, nothing signed or recorded).
- ``webhooks.events``: ``charge_create`` with events recorded (and a delivery row queued for
  one endpoint) next to ``charge_create`` with the webhook hooks removed: the cost events add
  to the hot path, which writes them in the charge's own transaction.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from unittest import mock
from urllib.parse import urlsplit

from django.test import override_settings

from checkout.payments.events import ChargeSucceeded
from checkout.payments.services import charge_create
from checkout.webhooks.delivery import deliveries_run
from checkout.webhooks.events import event_record, events_on_domain_event
from checkout.webhooks.models import Event, WebhookDelivery
from checkout.webhooks.services import webhook_endpoint_create
from payments_site.kernel.events import DomainEvent, subscribe, unsubscribe
from tests.bench.registry import BenchContext, bench, timed
from tests.checkout.webhooks.receiver import receiver_server
from vault.cards import card_validate
from vault.envelope import data_keys
from vault.merchants import merchant_create
from vault.services import token_create

DELIVERIES = int(os.environ.get("BENCH_WEBHOOKS", "500"))
CHARGES = int(os.environ.get("BENCH_WEBHOOK_CHARGES", "300"))
CARD = "4242424242424242"  # a public test card (benches live under tests/)


def _token(merchant: object) -> object:
    card = card_validate(number=CARD, exp_month=12, exp_year=2034, require_cvc=False)
    return token_create(merchant=merchant, card=card, actor="bench")  # type: ignore[arg-type]


@contextmanager
def _without(event_type: type[DomainEvent], handler: Callable[..., object]) -> Iterator[None]:
    """The same charges with webhooks not listening: the baseline."""
    unsubscribe(event_type, handler)
    try:
        yield
    finally:
        subscribe(event_type, handler)


@bench("webhooks.delivery")
def delivery_bench(ctx: BenchContext) -> None:
    data_keys.clear()
    merchant = merchant_create(name="Bench webhooks").in_mode(False)
    token = _token(merchant)
    loopback = override_settings(WEBHOOK_ADDRESS_ALLOWLIST=["127.0.0.1"], WEBHOOK_ALLOW_HTTP=True)
    with loopback, receiver_server() as receiver:
        _, secret = webhook_endpoint_create(
            merchant=merchant, url=receiver.url, enabled_events=["*"]
        )
        receiver.secrets.append(secret)
        # Queued, not handed to Celery (which runs inline without a broker): the pass sends.
        with mock.patch("checkout.webhooks.tasks.deliveries_enqueue"):
            for _ in range(DELIVERIES):
                event_record(event_type="token.revoked", obj=token)  # type: ignore[arg-type]
        body = Event.objects.first().payload.encode()  # type: ignore[union-attr]
        target = urlsplit(receiver.url)

        with timed() as bare:
            for _ in range(DELIVERIES):
                conn = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
                conn.request("POST", target.path, body, {"Content-Type": "application/json"})
                conn.getresponse().read()
                conn.close()
        with timed() as delivered:
            made = deliveries_run(limit=DELIVERIES)
        verified = sum(1 for r in receiver.requests if r.verified_by)
    ok = WebhookDelivery.objects.filter(status="succeeded").count()
    base = DELIVERIES / bare.seconds
    rate = made / delivered.seconds
    ctx.row("path (local receiver, new connection each)", "per s", "× baseline", "2xx", "verified")
    ctx.row("bare http.client POST", f"{base:,.0f}", "1.00", f"{DELIVERIES}", "-")
    ctx.row(
        "deliveries_run (signed, pinned, recorded)",
        f"{rate:,.0f}",
        f"{rate / base:.2f}",
        f"{ok}/{made}",
        f"{verified}",
    )


@bench("webhooks.events")
def events_bench(ctx: BenchContext) -> None:
    data_keys.clear()
    merchant = merchant_create(name="Bench events").in_mode(False)
    token = _token(merchant)

    def charges() -> float:
        with timed() as t:
            for _ in range(CHARGES):
                charge_create(merchant=merchant, token_id=token.pk, amount=100, currency="EUR")  # type: ignore[attr-defined]
        return CHARGES / t.seconds

    with _without(ChargeSucceeded, events_on_domain_event):
        base = charges()
    with override_settings(WEBHOOK_ADDRESS_ALLOWLIST=["127.0.0.1"], WEBHOOK_ALLOW_HTTP=True):
        # One endpoint, so each charge also queues a delivery row; the hand-off to Celery
        # happens on commit and is not part of this measure (no broker: nothing is sent).
        webhook_endpoint_create(merchant=merchant, url="http://127.0.0.1:9/", enabled_events=["*"])
    with mock.patch("checkout.webhooks.tasks.deliveries_enqueue"):
        rate = charges()
    ctx.row("charge_create (sandbox processor)", "per s", "× baseline")
    ctx.row("without webhook events", f"{base:,.0f}", "1.00")
    ctx.row("with events + 1 delivery row", f"{rate:,.0f}", f"{rate / base:.2f}")
