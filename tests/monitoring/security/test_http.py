"""Cool-offs that anyone can trip without a key (a hosted page, the vault ingest) never deny a
merchant's authenticated API use from the same address: behind a shared NAT, or a proxy whose
``AXES_PROXY_COUNT`` is 0, an attacker and a merchant look alike. The anonymous surfaces stay
cooled off; keyed traffic is judged by what its own key did."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from checkout.payments.models import Charge
from monitoring.security.cooloff import cooloff_check, cooloff_start
from monitoring.security.counters import counter_store
from monitoring.security.models import SecurityAlert
from monitoring.security.rules import api_client_source
from tests.checkout.sessions.conftest import LUHN_WRONG, VISA, keys  # noqa: F401
from tests.checkout.sessions.test_views import page_url, raw_post
from tests.factories import CheckoutSessionFactory, IssuedKeyFactory, MerchantFactory, TokenFactory
from tests.vault.conftest import keyring_path, template_keyring  # noqa: F401
from vault.keys import KeyService
from vault.merchants import IssuedKey
from vault.models import Merchant

pytestmark = pytest.mark.django_db

SHARED = "203.0.113.80"  # one NAT address: an attacker and a merchant's server behind it


def _merchant_api(issued_key: IssuedKey) -> APIClient:
    client = APIClient(REMOTE_ADDR=SHARED)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued_key.secret}")
    return client


def _charge(client: APIClient, merchant: Merchant) -> Any:
    token = TokenFactory.create(merchant=merchant, number=VISA)
    return client.post(
        "/api/v1/charges", {"token": token.pk, "amount": 500, "currency": "EUR"}, format="json"
    )


def _other_merchant_key() -> IssuedKey:
    key: IssuedKey = IssuedKeyFactory.create(merchant=MerchantFactory.create(name="Next Door"))
    return key


def test_garbage_tokens_to_the_vault_do_not_stop_a_merchants_charges(
    keys: KeyService,  # noqa: F811
) -> None:
    # given twenty garbage card tokens sent to the vault from the shared address
    vault = Client(REMOTE_ADDR=SHARED)
    statuses = [
        vault.post("/vault/v1/cards", data=b"a.b.c", content_type="application/jwt").status_code
        for _ in range(21)
    ]
    assert statuses[-1] == 429  # the anonymous surface cools the address off
    merchant_key = _other_merchant_key()

    # when a merchant behind the same address charges a token with its key
    response = _charge(_merchant_api(merchant_key), merchant_key.api_key.merchant)

    # then the charge is made
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "succeeded"


def test_invalid_cards_on_one_merchants_page_do_not_stop_another_merchants_api(
    keys: KeyService,  # noqa: F811
    merchant: Merchant,
) -> None:
    # given ten invalid cards posted to one merchant's hosted pages from the shared address
    page = Client(REMOTE_ADDR=SHARED)
    for _ in range(11):
        session = CheckoutSessionFactory.create(
            merchant=merchant, success_url="https://shop.example/thanks"
        )
        last = page.post(page_url(session), raw_post(session, LUHN_WRONG))
    assert last.status_code == 429
    merchant_key = _other_merchant_key()
    api = _merchant_api(merchant_key)

    # when another merchant behind that address charges and opens a checkout with its key
    charge = _charge(api, merchant_key.api_key.merchant)
    checkout = api.post(
        "/api/v1/checkout/sessions",
        {
            "mode": "payment",
            "amount": 4900,
            "currency": "EUR",
            "success_url": "https://shop.example/thanks",
            "cancel_url": "https://shop.example/cart",
        },
        format="json",
    )

    # then both are served, and the page stays cooled off for the address
    assert charge.status_code == 201, charge.json()
    assert checkout.status_code == 201, checkout.json()
    assert cooloff_check(ip=SHARED) is not None


def test_twenty_bad_api_keys_do_not_lock_a_merchants_valid_key(
    keys: KeyService,  # noqa: F811
    issued_key: IssuedKey,
    merchant: Merchant,
) -> None:
    # given twenty bad keys from the shared address
    attacker = APIClient(REMOTE_ADDR=SHARED)
    attacker.credentials(HTTP_AUTHORIZATION="Bearer sk_test_" + "q" * 43)
    statuses = [attacker.get("/api/v1/merchant").status_code for _ in range(20)]

    # when the merchant behind that address charges with its key
    response = _charge(_merchant_api(issued_key), merchant)

    # then the guesses were locked out, the merchant is served and an alert was raised
    assert statuses == [401] * 10 + [429] * 10
    assert response.status_code == 201, response.json()
    assert SecurityAlert.objects.filter(rule="api_keys.rejections.ip", source=SHARED).exists()


def test_a_merchants_own_api_client_still_cools_off(
    keys: KeyService,  # noqa: F811
    issued_key: IssuedKey,
    merchant: Merchant,
) -> None:
    # given the merchant's own client at this address tripped a card-testing rule
    source = api_client_source(merchant_id=merchant.pk, ip=SHARED)
    assert source is not None
    cooloff_start(counter_store(), scope="client", source=source, seconds=600, now=_now())
    api = _merchant_api(issued_key)

    # when it charges again; and another merchant charges from the same address
    refused = _charge(api, merchant)
    other_key = _other_merchant_key()
    other = _charge(_merchant_api(other_key), other_key.api_key.merchant)

    # then only the client that tripped the rule waits; it still reads what it has
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_attempts"
    assert other.status_code == 201
    assert api.get("/api/v1/charges").status_code == 200
    assert Charge.objects.filter(merchant=merchant).count() == 0


def _now() -> float:
    return time.time()
