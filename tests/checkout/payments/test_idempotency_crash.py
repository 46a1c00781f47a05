"""A request that dies after committing its effect, retried with the same Idempotency-Key once
the key's lock lapses, answers with that effect and never makes a second — on real gunicorn,
whose timeout kills the worker while the sandbox processor hangs.

Charges, refunds and subscriptions (whose first period is charged in the request) hang in the
processor (``PROCESSOR_SANDBOX_LATENCY_MS`` past ``GUNICORN_TIMEOUT``). Checkout sessions and
webhook endpoints never call the processor, so their requests are made to hang at the same
point, right after their effect commits (``tests.support.hang_settings``).
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from checkout.billing.models import Subscription
from checkout.billing.services import pending_reconcile, subscription_bill, subscriptions_due
from checkout.payments.models import Charge, Refund
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.payments.services import charge_create
from checkout.sessions.models import CheckoutSession
from checkout.webhooks.models import WebhookEndpoint
from tests.factories import TokenFactory
from tests.support.servers import gunicorn
from vault.merchants import api_key_create
from vault.models import Merchant

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT = 8  # seconds; well above what the requests need before they hang
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "tests.support.hang_settings",
    "GUNICORN_TIMEOUT": str(TIMEOUT),
    "PROCESSOR_SANDBOX_LATENCY_MS": str(6 * TIMEOUT * 1000),
    "IDEMPOTENCY_LOCK_SECONDS": str(TIMEOUT + 2),
    "HANG_AFTER_COMMIT": "checkout.CheckoutSession,checkout.WebhookEndpoint",
    "HANG_AFTER_COMMIT_SECONDS": str(6 * TIMEOUT),
    "API_THROTTLE_RATE": "100000/second",
}


def _request(
    server_url: str, cafile: Path, secret: str, path: str, body: dict[str, Any], key: str
) -> tuple[int, dict[str, str], dict[str, Any]] | None:
    """One POST; None when the worker died before our code answered."""
    target = urlsplit(server_url)
    context = ssl.create_default_context(cafile=str(cafile))
    connection = http.client.HTTPSConnection(
        str(target.hostname), target.port, context=context, timeout=8 * TIMEOUT
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
        content = response.read()
        if response.status == 500:
            return None  # gunicorn's own answer for the worker it aborted on its timeout
        return response.status, dict(response.headers), json.loads(content)
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _retry_until_the_lock_lapses(send: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    deadline = time.monotonic() + 12 * TIMEOUT
    while time.monotonic() < deadline:
        answer = send()
        if answer is not None and answer[0] != 409:
            return answer
        time.sleep(1)
    raise AssertionError("the retry never got past 409 idempotency_key_in_use")


def test_a_retry_after_a_crash_answers_with_the_first_effect_and_makes_no_second(
    merchant: Merchant, tls_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    secret = api_key_create(merchant=merchant).secret
    token = TokenFactory.create(merchant=merchant)
    paid = charge_create(merchant=merchant, token_id=token.id, amount=5000, currency="EUR")
    assert paid.status == "succeeded"
    requests: dict[str, tuple[str, dict[str, Any]]] = {
        "charge": ("/api/v1/charges", {"token": token.id, "amount": 1999, "currency": "EUR"}),
        "refund": (f"/api/v1/charges/{paid.id}/refunds", {"amount": 700}),
        "subscription": (
            "/api/v1/subscriptions",
            {"token": token.id, "amount": 900, "currency": "EUR", "interval": "month"},
        ),
        "session": (
            "/api/v1/checkout/sessions",
            {
                "mode": "payment",
                "amount": 4900,
                "currency": "EUR",
                "success_url": "https://shop.example/thanks",
                "cancel_url": "https://shop.example/cart",
            },
        ),
        "endpoint": (
            "/api/v1/webhook_endpoints",
            {"url": "https://127.0.0.1:9/hooks", "enabled_events": ["token.revoked"]},
        ),
    }

    log = tmp_path / "gunicorn.log"
    with gunicorn(cert=tls_cert, workers=len(requests) + 1, env=SERVER_ENV, log_path=log) as server:

        def send(name: str) -> Any:
            path, body = requests[name]
            return _request(server.url, tls_cert[0], secret, path, body, key=f"crash-{name}")

        with ThreadPoolExecutor(len(requests)) as pool:
            firsts = dict(zip(requests, pool.map(send, requests), strict=True))
            retries = dict(
                zip(
                    requests,
                    pool.map(lambda n: _retry_until_the_lock_lapses(lambda: send(n)), requests),
                    strict=True,
                )
            )

    # Every first request died (killed by gunicorn's timeout: a 500 or no answer at all)
    # after its effect was committed.
    assert firsts == dict.fromkeys(requests)
    assert log.read_text().count("WORKER TIMEOUT") == len(requests)
    effects: dict[str, list[Any]] = {
        "charge": list(Charge.objects.filter(subscription__isnull=True).exclude(pk=paid.pk)),
        "refund": list(Refund.objects.all()),
        "subscription": list(Subscription.objects.all()),
        "session": list(CheckoutSession.objects.all()),
        "endpoint": list(WebhookEndpoint.objects.all()),
    }
    for name, (status, headers, body) in retries.items():
        assert len(effects[name]) == 1, name  # exactly one effect each…
        assert body["id"] == effects[name][0].pk, name  # …and the retry answers with it
        assert headers["Idempotent-Replayed"] == "true", name
        assert status in (200, 201, 202), (name, status, body)
    assert retries["charge"][0] == 202 and retries["charge"][2]["status"] == "pending"
    assert retries["refund"][0] == 202 and retries["refund"][2]["status"] == "pending"
    assert retries["endpoint"][2]["secret"] is None  # never stored, so never replayed
    # Billing and reconciliation finish what the dead requests started, once each: the charge,
    # the refund, and the subscription's first period (claimed before the worker died, or
    # still due if it died first).
    later = timezone.now() + timedelta(hours=1)
    for subscription_id in subscriptions_due(now=later):
        subscription_bill(subscription_id=subscription_id, now=later)
    pending_reconcile(now=later)

    period_zero = Charge.objects.get(subscription=effects["subscription"][0])
    charge, refund = effects["charge"][0], effects["refund"][0]
    charge.refresh_from_db()
    refund.refresh_from_db()
    period_zero.refresh_from_db()
    assert (charge.status, refund.status, period_zero.status) == ("succeeded",) * 3
    ledger = SandboxLedgerEntry.objects.order_by("created_at")
    assert sorted(e.idempotency_key for e in ledger) == sorted(
        [paid.id, charge.id, refund.id, period_zero.id]
    )
    paid.refresh_from_db()
    assert paid.amount_refunded == 700
