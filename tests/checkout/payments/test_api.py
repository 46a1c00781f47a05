"""POST/GET /api/v1/charges through the real DRF stack, against the sandbox processor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from checkout.payments.models import Charge
from checkout.payments.processors.models import SandboxLedgerEntry
from monitoring.audit.models import AuditEvent
from tests.checkout.conftest import CARDS, DECLINES
from tests.factories import IssuedKeyFactory, TokenFactory
from vault.models import Merchant, Token
from vault.services import token_revoke

pytestmark = pytest.mark.django_db

URL = "/api/v1/charges"


def post(client: APIClient, body: dict[str, object], key: str | None = None):
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, body, format="json", **headers)


def test_charge_succeeds_and_reads_back(api_client: APIClient, token: Token) -> None:
    response = post(
        api_client,
        {
            "token": token.id,
            "amount": 1999,
            "currency": "eur",
            "description": "Order 1",
            "metadata": {"order": "1"},
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("ch_")
    assert body["status"] == "succeeded"
    assert body["failure_code"] is None
    assert (body["amount"], body["currency"], body["token"]) == (1999, "EUR", token.id)
    assert body["metadata"] == {"order": "1"}
    assert api_client.get(f"{URL}/{body['id']}").json() == body
    assert SandboxLedgerEntry.objects.get().idempotency_key == body["id"]


@pytest.mark.parametrize("code", sorted(DECLINES))
def test_declines_are_failed_charges_with_the_processor_code(
    api_client: APIClient, merchant: Merchant, code: str
) -> None:
    token = TokenFactory.create(merchant=merchant, number=DECLINES[code])

    response = post(api_client, {"token": token.id, "amount": 500, "currency": "USD"})

    assert response.status_code == 201
    assert response.json()["status"] == "failed"
    assert response.json()["failure_code"] == code
    assert response.json()["failure_message"]


@pytest.mark.parametrize("entry", CARDS["approve"], ids=lambda e: e["brand"] + e["number"][-4:])
def test_every_approval_card_is_charged(
    api_client: APIClient, merchant: Merchant, entry: dict[str, str]
) -> None:
    token = TokenFactory.create(merchant=merchant, number=entry["number"])
    response = post(api_client, {"token": token.id, "amount": 100, "currency": "JPY"})
    assert response.json()["status"] == "succeeded"


def test_the_card_is_revealed_once_per_charge_and_audited(
    api_client: APIClient, token: Token
) -> None:
    charge_id = post(api_client, {"token": token.id, "amount": 100, "currency": "EUR"}).json()["id"]

    reveals = AuditEvent.objects.filter(action="token.reveal", object_id=token.id)
    assert reveals.count() == 1
    assert reveals.get().actor == "checkout:processor-adapter"
    assert reveals.get().data["purpose"] == f"charge:{charge_id}"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"amount": 0, "currency": "EUR"}, "amount", "min_value"),
        ({"amount": -5, "currency": "EUR"}, "amount", "min_value"),
        ({"amount": 10**12, "currency": "EUR"}, "amount", "max_value"),
        ({"amount": "12.5", "currency": "EUR"}, "amount", "parameter_invalid_type"),
        ({"amount": 12.5, "currency": "EUR"}, "amount", "parameter_invalid_type"),
        ({"amount": 100, "currency": "EURO"}, "currency", "invalid"),
        ({"amount": 100, "currency": "XAU"}, "currency", "invalid_currency"),
        ({"amount": 100}, "currency", "required"),
        (
            {"amount": 100, "currency": "EUR", "metadata": {"k": {"nested": 1}}},
            "metadata.k",
            "parameter_invalid_type",
        ),
        (
            {"amount": 100, "currency": "EUR", "description": "card 4242 4242 4242 4242"},
            "description",
            "card_data_not_allowed",
        ),
        (
            {"amount": 100, "currency": "EUR", "metadata": {"note": "4000056655665556"}},
            "metadata",
            "card_data_not_allowed",
        ),
    ],
)
def test_bad_input_is_a_field_problem_and_charges_nothing(
    api_client: APIClient, token: Token, body: dict[str, object], field: str, code: str
) -> None:
    response = post(api_client, {"token": token.id, **body})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    errors = {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert (field, code) in errors
    assert "4242 4242" not in response.content.decode()
    assert Charge.objects.count() == 0
    assert SandboxLedgerEntry.objects.count() == 0


def test_revoked_token_is_refused_with_a_clear_code(api_client: APIClient, token: Token) -> None:
    token_revoke(token=token, actor="test", reason="customer request")

    response = post(api_client, {"token": token.id, "amount": 100, "currency": "EUR"})

    assert response.status_code == 422
    assert response.json()["code"] == "token_revoked"
    assert response.json()["errors"][0]["field"] == "token"
    assert Charge.objects.count() == 0


def test_expired_token_is_refused(api_client: APIClient, merchant: Merchant, settings) -> None:
    token = TokenFactory.create(merchant=merchant, exp_month=1, exp_year=2031)
    settings.CHECKOUT_CLOCK = "tests.checkout.clocks.february_2031"

    response = post(api_client, {"token": token.id, "amount": 100, "currency": "EUR"})

    assert response.status_code == 422
    assert response.json()["code"] == "token_expired"
    assert Charge.objects.count() == 0


def test_another_merchants_token_looks_like_a_missing_one(
    api_client: APIClient, other_merchant: Merchant
) -> None:
    foreign = TokenFactory.create(merchant=other_merchant)

    foreign_answer = post(api_client, {"token": foreign.id, "amount": 100, "currency": "EUR"})
    missing_answer = post(
        api_client, {"token": "tok_doesnotexist", "amount": 100, "currency": "EUR"}
    )

    assert foreign_answer.status_code == missing_answer.status_code == 422
    assert foreign_answer.json()["code"] == missing_answer.json()["code"] == "token_not_found"
    assert Charge.objects.count() == 0


def test_another_merchants_charge_is_not_found(
    api_client: APIClient, other_merchant: Merchant
) -> None:
    from checkout.payments.services import charge_create

    theirs = charge_create(
        merchant=other_merchant,
        token_id=TokenFactory.create(merchant=other_merchant).id,
        amount=100,
        currency="EUR",
    )

    response = api_client.get(f"{URL}/{theirs.id}")

    assert response.status_code == 404
    assert response.json()["code"] == "charge_not_found"
    assert api_client.get(URL).json()["data"] == []


def test_unauthenticated_requests_are_refused(token: Token) -> None:
    response = APIClient().post(
        URL, {"token": token.id, "amount": 100, "currency": "EUR"}, format="json"
    )

    assert response.status_code == 401
    assert Charge.objects.count() == 0


def test_list_is_cursor_paginated_and_filtered(
    api_client: APIClient, merchant: Merchant, token_factory: Callable[..., Token]
) -> None:
    declined = token_factory(number=DECLINES["card_declined"])
    for amount in range(1, 6):
        post(api_client, {"token": token_factory().id, "amount": amount, "currency": "EUR"})
    post(api_client, {"token": declined.id, "amount": 99, "currency": "EUR"})

    first = api_client.get(URL, {"limit": 4}).json()
    second = api_client.get(URL, {"limit": 4, "starting_after": first["data"][-1]["id"]}).json()
    failed = api_client.get(URL, {"status": "failed"}).json()
    by_token = api_client.get(URL, {"token": declined.id}).json()

    amounts = [c["amount"] for c in first["data"] + second["data"]]
    assert amounts == [99, 5, 4, 3, 2, 1]
    assert (first["object"], first["has_more"], second["has_more"]) == ("list", True, False)
    assert [c["amount"] for c in failed["data"]] == [99]
    assert [c["amount"] for c in by_token["data"]] == [99]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "x"},
        {"starting_after": "garbage"},
        {"starting_after": "ch_0000000000000000000000"},
        {"ending_before": "ch_0000000000000000000000"},
        {"status": "nope"},
        {"created_gte": "yesterday"},
    ],
)
def test_bad_list_parameters_are_400(api_client: APIClient, query: dict[str, Any]) -> None:
    response = api_client.get(URL, query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_created_filters(api_client: APIClient, token: Token) -> None:
    post(api_client, {"token": token.id, "amount": 7, "currency": "EUR"})

    assert len(api_client.get(URL, {"created_gte": "2000-01-01T00:00:00Z"}).json()["data"]) == 1
    assert api_client.get(URL, {"created_lte": "2000-01-01T00:00:00Z"}).json()["data"] == []


def test_refunds_are_listed_across_charges_and_read_back(
    api_client: APIClient, token_factory: Callable[..., Token], other_merchant: Merchant
) -> None:
    first, second = (
        post(api_client, {"token": token_factory().id, "amount": 1000, "currency": "EUR"}).json()
        for _ in range(2)
    )
    refunds = [
        api_client.post(f"{URL}/{charge['id']}/refunds", {"amount": n}, format="json").json()
        for charge, n in ((first, 100), (second, 200), (first, 300))
    ]

    listed = api_client.get("/api/v1/refunds").json()
    of_first = api_client.get("/api/v1/refunds", {"charge": first["id"]}).json()
    one = api_client.get(f"/api/v1/refunds/{refunds[1]['id']}")
    theirs = APIClient()
    theirs.credentials(
        HTTP_AUTHORIZATION=f"Bearer {IssuedKeyFactory.create(merchant=other_merchant).secret}"
    )
    foreign = theirs.get(f"/api/v1/refunds/{refunds[1]['id']}")

    assert [r["amount"] for r in listed["data"]] == [300, 200, 100]
    assert [r["amount"] for r in of_first["data"]] == [300, 100]
    assert one.status_code == 200 and one.json() == refunds[1]
    assert foreign.status_code == 404 and foreign.json()["code"] == "refund_not_found"
    assert theirs.get("/api/v1/refunds").json()["data"] == []


def test_a_charge_shows_its_card_from_the_token_metadata_without_opening_it(
    api_client: APIClient,
    token_factory: Callable[..., Token],
    monkeypatch: pytest.MonkeyPatch,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    tokens = [token_factory() for _ in range(3)]
    made = [
        post(api_client, {"token": t.id, "amount": 100, "currency": "EUR"}).json() for t in tokens
    ]

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a charge's card details must not open the card")

    monkeypatch.setattr("vault.envelope.card_open", never)
    monkeypatch.setattr("vault.services.card_open", never, raising=False)
    one = api_client.get(f"{URL}/{made[0]['id']}").json()
    with django_assert_max_num_queries(3):  # one page, whatever its length: no query per charge
        listed = api_client.get(URL).json()["data"]

    token = tokens[0]
    expected = {
        "type": "card",
        "card": {
            "brand": token.brand,
            "last4": token.last4,
            "exp_month": token.exp_month,
            "exp_year": token.exp_year,
            "fingerprint": token.fingerprint,
        },
    }
    assert made[0]["payment_method_details"] == one["payment_method_details"] == expected
    assert [c["payment_method_details"]["card"]["last4"] for c in listed] == [
        t.last4 for t in reversed(tokens)
    ]
