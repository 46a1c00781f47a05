"""POST /api/v1/charges with ``capture: false``, then …/capture and …/release, through the real
DRF stack: statuses and codes, idempotent replays, a lost answer answered 202, other merchants
and the other mode kept out."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from checkout.payments.models import Charge
from checkout.payments.processors.models import SandboxLedgerEntry
from tests.factories import MerchantFactory, TokenFactory
from vault.merchants import api_key_create
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db

URL = "/api/v1/charges"


def post(client: APIClient, url: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body, format="json", **headers)


def authorize(client: APIClient, token: Token, amount: int = 2000) -> dict[str, Any]:
    response = post(
        client, URL, {"token": token.id, "amount": amount, "currency": "EUR", "capture": False}
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def test_authorise_then_capture_part(api_client: APIClient, token: Token) -> None:
    held = authorize(api_client, token)

    captured = post(api_client, f"{URL}/{held['id']}/capture", {"amount": 1500}, key="ship-1")

    assert held["status"] == "requires_capture"
    assert (held["captured"], held["capture_method"]) == (False, "manual")
    assert (held["amount_capturable"], held["amount_captured"]) == (2000, 0)
    assert held["authorization_expires_at"] is not None
    assert captured.status_code == 200, captured.content
    body = captured.json()
    assert (body["status"], body["captured"]) == ("succeeded", True)
    assert (body["amount_captured"], body["amount_capturable"]) == (1500, 0)
    assert api_client.get(f"{URL}/{held['id']}").json() == body


def test_a_replayed_capture_answers_the_same_and_a_new_one_is_refused(
    api_client: APIClient, token: Token
) -> None:
    held = authorize(api_client, token)
    url = f"{URL}/{held['id']}/capture"

    first = post(api_client, url, {}, key="ship-2")
    replay = post(api_client, url, {}, key="ship-2")
    second = post(api_client, url, {}, key="ship-3")

    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert second.status_code == 409
    assert second["Content-Type"].startswith("application/problem+json")
    assert second.json()["code"] == "charge_already_captured"
    assert second.json()["title"] == "The charge cannot be captured or released now"
    assert SandboxLedgerEntry.objects.filter(kind="capture").count() == 1


def test_release_then_capture_is_refused(api_client: APIClient, token: Token) -> None:
    held = authorize(api_client, token)

    released = post(api_client, f"{URL}/{held['id']}/release", {}, key="cancel-1")
    late = post(api_client, f"{URL}/{held['id']}/capture", {})

    assert released.status_code == 200
    assert (released.json()["status"], released.json()["amount_capturable"]) == ("released", 0)
    assert late.status_code == 409
    assert late.json()["code"] == "charge_released"


def test_capture_above_the_hold_is_a_field_error(api_client: APIClient, token: Token) -> None:
    held = authorize(api_client, token)

    response = post(api_client, f"{URL}/{held['id']}/capture", {"amount": 2001})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "amount"
    assert response.json()["errors"][0]["code"] == "capture_amount_too_large"
    assert Charge.objects.get().status == "requires_capture"


def test_unknown_parameters_are_refused_on_capture_and_release(
    api_client: APIClient, token: Token
) -> None:
    held = authorize(api_client, token)

    capture = post(api_client, f"{URL}/{held['id']}/capture", {"amount_to_capture": 5})
    release = post(api_client, f"{URL}/{held['id']}/release", {"reason": "x"})

    assert (capture.status_code, capture.json()["code"]) == (400, "parameter_unknown")
    assert (release.status_code, release.json()["code"]) == (400, "parameter_unknown")
    assert Charge.objects.get().status == "requires_capture"


def test_refund_of_an_uncaptured_authorization_is_refused(
    api_client: APIClient, token: Token
) -> None:
    held = authorize(api_client, token)

    response = post(api_client, f"{URL}/{held['id']}/refunds", {"amount": 1})

    assert response.status_code == 422
    assert response.json()["code"] == "charge_not_refundable"


def test_a_lost_capture_answer_is_202_capturing(api_client: APIClient, token: Token) -> None:
    held = authorize(api_client, token)

    with override_settings(
        PROCESSOR_OPTIONS={"latency_ms": 0, "fault": "timeout_after", "fault_on": "capture"}
    ):
        response = post(api_client, f"{URL}/{held['id']}/capture", {}, key="ship-lost")
        replay = post(api_client, f"{URL}/{held['id']}/capture", {}, key="ship-lost")

    assert response.status_code == 202
    assert response.json()["status"] == "capturing"
    assert replay.json() == response.json()


def test_another_merchant_and_the_other_mode_see_no_authorization(
    api_client: APIClient, merchant: Merchant, token: Token
) -> None:
    held = authorize(api_client, token)
    stranger = APIClient()
    stranger.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(merchant=MerchantFactory.create()).secret}"
    )
    live = APIClient()
    live_secret = api_key_create(merchant=merchant, mode="live").secret
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {live_secret}")

    for client in (stranger, live):
        for step in ("capture", "release"):
            response = post(client, f"{URL}/{held['id']}/{step}", {})
            assert response.status_code in (403, 404), response.content

    assert Charge.objects.get().status == "requires_capture"
    assert SandboxLedgerEntry.objects.exclude(kind="authorize").count() == 0


def test_a_declined_authorization_is_a_failed_charge(
    api_client: APIClient, merchant: Merchant
) -> None:
    from tests.checkout.conftest import DECLINES

    token = TokenFactory.create(merchant=merchant, number=DECLINES["insufficient_funds"])

    response = post(
        api_client, URL, {"token": token.id, "amount": 100, "currency": "EUR", "capture": False}
    )

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["failure_code"]) == (
        "failed",
        "insufficient_funds",
    )
    assert response.json()["amount_capturable"] == 0
