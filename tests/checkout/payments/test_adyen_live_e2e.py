"""Live mode end to end against real gunicorn and the HTTPS fake of Adyen: a shopper pays a
live merchant's hosted checkout with a card number the fake treats as real (live mode refuses
public test cards), the authorization goes to the fake over verified TLS, the merchant
captures over the API, the fake posts its signed ``CAPTURE`` notification to our server, and
our ``charge.captured`` webhook reaches the merchant's receiver, its signature verified."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from checkout.payments.models import Charge
from checkout.payments.processors.models import AdyenNotification
from checkout.webhooks.services import webhook_endpoint_create
from tests.checkout.payments.processors.adyen_fake import (
    API_KEY,
    HMAC_KEY,
    MERCHANT_ACCOUNT,
    fake_adyen,
)
from tests.checkout.webhooks.conftest import TlsFiles
from tests.checkout.webhooks.conftest import tls_files as tls_files  # the tests' own CA
from tests.checkout.webhooks.receiver import Receiver, receiver_server
from tests.factories import CheckoutSessionFactory, MerchantFactory
from tests.monitoring.security.test_engine_e2e import CSRF, NONCE, Caller
from tests.support.servers import gunicorn
from tests.vault.test_mode_cards_e2e import random_real_number
from vault.envelope import data_keys
from vault.merchants import api_key_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait(receiver: Receiver, event_type: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in receiver.accepted():
            event = json.loads(received.body)
            if event["type"] == event_type:
                return dict(event)
        time.sleep(0.2)
    raise AssertionError(f"no {event_type} reached the receiver")


def test_a_live_hosted_checkout_is_captured_at_adyen_and_announced_by_its_notification(
    tls_cert: tuple[Path, Path], tls_files: Callable[[str], TlsFiles], tmp_path: Path
) -> None:
    data_keys.clear()
    files = tls_files("localhost")
    merchant = MerchantFactory.create(name="Live Shop")
    live = merchant.in_mode(True)
    number = random_real_number()
    with (
        fake_adyen(certfile=str(files.cert), keyfile=str(files.key)) as adyen,
        receiver_server() as receiver,
        gunicorn(
            cert=tls_cert,
            workers=1,
            log_path=tmp_path / "gunicorn.log",
            env={
                "AXES_PROXY_COUNT": "1",
                "PROCESSOR_LIVE": "checkout.payments.processors.adyen.AdyenLiveProcessor",
                "ADYEN_LIVE_ENDPOINT": adyen.endpoint,
                "ADYEN_LIVE_API_KEY": API_KEY,
                "ADYEN_LIVE_MERCHANT_ACCOUNT": MERCHANT_ACCOUNT,
                "ADYEN_CA_BUNDLE": str(files.ca),
                "ADYEN_HMAC_KEY": HMAC_KEY,
            },
        ) as server,
    ):
        adyen.live = True
        endpoint, secret = webhook_endpoint_create(
            merchant=live, url=receiver.url, enabled_events=["charge.authorized", "charge.captured"]
        )
        receiver.secrets.append(secret)
        session = CheckoutSessionFactory.create(
            merchant=live, amount=2500, currency="EUR", capture_method="manual"
        )

        # a shopper pays the hosted page (no JavaScript) with a real-looking card
        shopper = Caller(server, "198.51.100.20", requests.Session())
        page = shopper.request("GET", f"/checkout/{session.pk}/")
        nonce, csrf = NONCE.search(page.text), CSRF.search(page.text)
        assert nonce is not None and csrf is not None
        paid = shopper.request(
            "POST",
            f"/checkout/{session.pk}/",
            headers={"Origin": server.url, "Referer": page.url},
            data={
                "csrfmiddlewaretoken": csrf.group(1),
                "nonce": nonce.group(1),
                "name": "Live Shopper",
                "number": number,
                "exp": "12 / 34",
                "cvc": "123",
            },
        )
        assert paid.status_code in (200, 302, 303), paid.text[:500]
        charge = Charge.objects.get(merchant=merchant, livemode=True)
        assert (charge.status, charge.processor) == ("requires_capture", "AdyenLiveProcessor")
        (authorization,) = adyen.requests
        assert authorization["body"]["paymentMethod"]["number"] == number
        assert authorization["body"]["additionalData"] == {"manualCapture": "true"}
        _wait(receiver, "charge.authorized")

        # the merchant captures over the API: Adyen answers "received"
        merchant_api = Caller(server, "192.0.2.30", requests.Session())
        key = api_key_create(merchant=merchant, mode="live").secret
        captured = merchant_api.request(
            "POST",
            f"/api/v1/charges/{charge.pk}/capture",
            json={"amount": 2000},
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "capture-live-1"},
        )
        assert captured.status_code == 202, captured.text
        assert captured.json()["status"] == "capturing"
        assert not any(json.loads(r.body)["type"] == "charge.captured" for r in receiver.requests)

        # Adyen posts its signed CAPTURE notification to our server
        assert adyen.deliver(
            f"{server.url}/processors/adyen/notifications", verify=str(server.cafile)
        ) == [200]
        event = _wait(receiver, "charge.captured")

    assert event["data"]["object"]["id"] == charge.pk
    assert event["data"]["object"]["amount_captured"] == 2000
    assert event["livemode"] is True
    charge.refresh_from_db()
    assert (charge.status, charge.amount_captured) == ("succeeded", 2000)
    (notification,) = AdyenNotification.objects.all()
    assert (notification.event_code, notification.live, notification.outcome) == (
        "CAPTURE",
        True,
        "applied",
    )
    assert adyen.effects == {"payment": 1, "capture": 1}
    assert all(r.verified_by == [0] for r in receiver.accepted())
    assert endpoint.livemode is True
    assert number not in (tmp_path / "gunicorn.log").read_text()
