"""``/api/v1/customers``: create, read, list, update, delete; saved cards, the default card,
de-duplication by fingerprint, detach and delete semantics, other merchants and modes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from checkout.customers.models import Customer, CustomerCard
from checkout.webhooks.models import Event
from monitoring.audit.models import AuditEvent
from monitoring.observability.redaction import MASK, redact
from tests.cards import load_cards
from tests.factories import TokenFactory
from vault.merchants import api_key_create
from vault.models import EncryptedCard, Merchant, Token

pytestmark = pytest.mark.django_db

EMAIL = "ada.lovelace@example.com"


@pytest.fixture
def customer(api_client: APIClient) -> dict[str, Any]:
    response = api_client.post(
        "/api/v1/customers",
        {"name": "Ada Lovelace", "email": EMAIL, "metadata": {"account": "A-1"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def _attach(client: APIClient, customer_id: str, token_id: str, **extra: Any) -> Any:
    return client.post(
        f"/api/v1/customers/{customer_id}/cards", {"token": token_id, **extra}, format="json"
    )


def _key_client(merchant: Merchant, *, live: bool = False) -> APIClient:
    client = APIClient()
    secret = api_key_create(merchant=merchant, mode="live" if live else "test").secret
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_create_answers_the_customer_and_read_and_list_show_it(
    api_client: APIClient, customer: dict[str, Any]
) -> None:
    assert customer["id"].startswith("cus_")
    assert customer | {"id": "x", "created": "x"} == {
        "id": "x",
        "object": "customer",
        "livemode": False,
        "name": "Ada Lovelace",
        "email": EMAIL,
        "description": "",
        "metadata": {"account": "A-1"},
        "default_token": None,
        "created": "x",
        "deleted": False,
    }
    assert api_client.get(f"/api/v1/customers/{customer['id']}").json() == customer
    listed = api_client.get("/api/v1/customers").json()
    assert [c["id"] for c in listed["data"]] == [customer["id"]]
    assert listed["has_more"] is False


def test_list_pages_newest_first_with_a_cursor(api_client: APIClient) -> None:
    ids = [
        api_client.post("/api/v1/customers", {"name": f"c{i}"}, format="json").json()["id"]
        for i in range(3)
    ]
    first = api_client.get("/api/v1/customers", {"limit": 2}).json()
    assert [c["id"] for c in first["data"]] == ids[:0:-1] and first["has_more"] is True
    rest = api_client.get("/api/v1/customers", {"starting_after": ids[1]}).json()
    assert [c["id"] for c in rest["data"]] == [ids[0]] and rest["has_more"] is False


def test_update_changes_fields_and_merges_metadata(
    api_client: APIClient, customer: dict[str, Any]
) -> None:
    response = api_client.post(
        f"/api/v1/customers/{customer['id']}",
        {"email": "ada@example.org", "metadata": {"account": "", "tier": "gold"}},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["email"] == "ada@example.org"
    assert response.json()["metadata"] == {"tier": "gold"}
    assert response.json()["name"] == "Ada Lovelace"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"email": "not an address"}, "email", "invalid"),
        ({"name": "x" * 257}, "name", "max_length"),
        ({"nickname": "Ada"}, "nickname", "parameter_unknown"),
        ({"name": "card 4242 4242 4242 4242"}, "name", "card_data_not_allowed"),
    ],
)
def test_bad_input_is_a_specific_400_and_stores_nothing(
    api_client: APIClient, body: dict[str, Any], field: str, code: str
) -> None:
    response = api_client.post("/api/v1/customers", body, format="json")

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert field in {e["field"] for e in problem.get("errors", [])} | {problem.get("param")}, (
        problem
    )
    assert code in {e["code"] for e in problem.get("errors", [])} | {problem["code"]}
    assert not Customer.objects.exists()


def test_saved_cards_are_listed_and_the_first_becomes_the_default(
    api_client: APIClient, customer: dict[str, Any], token_factory: Callable[..., Token]
) -> None:
    first, second = token_factory(), token_factory(number="5555555555554444")

    attached = _attach(api_client, customer["id"], first.id)
    _attach(api_client, customer["id"], second.id)

    assert attached.status_code == 201, attached.content
    assert attached.json() | {"created": "x"} == {
        "id": first.id,
        "object": "customer_card",
        "livemode": False,
        "customer": customer["id"],
        "default": True,
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2034,
        "fingerprint": first.fingerprint,
        "expired": False,
        "created": "x",
        "detached_at": None,
    }
    cards = api_client.get(f"/api/v1/customers/{customer['id']}/cards").json()["data"]
    assert [(c["id"], c["default"]) for c in cards] == [(second.id, False), (first.id, True)]
    read = api_client.get(f"/api/v1/customers/{customer['id']}").json()
    assert read["default_token"] == first.id


def test_the_same_card_saved_twice_is_one_card(
    api_client: APIClient, customer: dict[str, Any], token_factory: Callable[..., Token]
) -> None:
    original, again = token_factory(), token_factory()  # one card number, two tokens
    assert original.id != again.id and original.fingerprint == again.fingerprint

    _attach(api_client, customer["id"], original.id)
    duplicate = _attach(api_client, customer["id"], again.id)
    repeated = _attach(api_client, customer["id"], original.id)

    assert duplicate.status_code == 200 and duplicate.json()["id"] == original.id
    assert repeated.status_code == 200 and repeated.json()["id"] == original.id
    cards = api_client.get(f"/api/v1/customers/{customer['id']}/cards").json()["data"]
    assert [c["id"] for c in cards] == [original.id]
    assert CustomerCard.objects.count() == 1


def test_default_card_is_chosen_by_attach_or_update(
    api_client: APIClient, customer: dict[str, Any], token_factory: Callable[..., Token]
) -> None:
    first, second = token_factory(), token_factory(number="5555555555554444")
    _attach(api_client, customer["id"], first.id)
    _attach(api_client, customer["id"], second.id, default=True)
    assert api_client.get(f"/api/v1/customers/{customer['id']}").json()["default_token"] == (
        second.id
    )

    back = api_client.post(
        f"/api/v1/customers/{customer['id']}", {"default_token": first.id}, format="json"
    )

    assert back.status_code == 200 and back.json()["default_token"] == first.id
    assert CustomerCard.objects.filter(is_default=True).count() == 1


def test_default_token_must_be_a_card_of_the_customer(
    api_client: APIClient, customer: dict[str, Any], token: Token
) -> None:
    response = api_client.post(
        f"/api/v1/customers/{customer['id']}", {"default_token": token.id}, format="json"
    )

    assert response.status_code == 422
    assert response.json()["code"] == "not_a_customer_card"
    assert response.json()["errors"][0]["field"] == "default_token"


def test_a_token_is_saved_to_one_customer_only(
    api_client: APIClient, customer: dict[str, Any], token: Token
) -> None:
    other = api_client.post("/api/v1/customers", {"name": "Bob"}, format="json").json()
    _attach(api_client, customer["id"], token.id)

    refused = _attach(api_client, other["id"], token.id)

    assert refused.status_code == 422
    assert refused.json()["code"] == "token_attached_elsewhere"
    assert api_client.get(f"/api/v1/customers/{other['id']}/cards").json()["data"] == []


@pytest.mark.parametrize("state", ["revoked", "unknown"])
def test_a_revoked_or_unknown_token_cannot_be_saved(
    api_client: APIClient, customer: dict[str, Any], token: Token, state: str
) -> None:
    token_id = token.id if state == "revoked" else "tok_" + "0" * 22
    if state == "revoked":
        api_client.delete(f"/api/v1/tokens/{token.id}")

    response = _attach(api_client, customer["id"], token_id)

    assert response.status_code == 422
    assert response.json()["code"] == f"token_{'revoked' if state == 'revoked' else 'not_found'}"
    assert not CustomerCard.objects.exists()


def test_detach_revokes_the_token_and_clears_the_default(
    api_client: APIClient, customer: dict[str, Any], token: Token
) -> None:
    _attach(api_client, customer["id"], token.id)
    card_row = token.card_data_id
    assert card_row is not None

    detached = api_client.delete(f"/api/v1/customers/{customer['id']}/cards/{token.id}")
    again = api_client.delete(f"/api/v1/customers/{customer['id']}/cards/{token.id}")

    assert detached.status_code == 200, detached.content
    assert detached.json()["detached_at"] is not None and detached.json()["default"] is False
    assert again.status_code == 200 and again.json() == detached.json()
    token.refresh_from_db()
    assert token.status == Token.Status.REVOKED and token.card_data_id is None
    assert not EncryptedCard.objects.filter(pk=card_row).exists()  # crypto-shredded
    assert api_client.get(f"/api/v1/customers/{customer['id']}/cards").json()["data"] == []
    assert api_client.get(f"/api/v1/customers/{customer['id']}").json()["default_token"] is None
    charge = api_client.post(
        "/api/v1/charges", {"token": token.id, "amount": 100, "currency": "EUR"}, format="json"
    )
    assert charge.status_code == 422 and charge.json()["code"] == "token_revoked"


def test_detach_of_a_card_the_customer_does_not_have_is_404(
    api_client: APIClient, customer: dict[str, Any], token: Token
) -> None:
    response = api_client.delete(f"/api/v1/customers/{customer['id']}/cards/{token.id}")

    assert response.status_code == 404
    assert response.json()["code"] == "customer_card_not_found"
    token.refresh_from_db()
    assert token.status == Token.Status.ACTIVE


def test_delete_erases_personal_data_and_revokes_every_card(
    api_client: APIClient,
    customer: dict[str, Any],
    token_factory: Callable[..., Token],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    tokens = [token_factory(), token_factory(number="5555555555554444")]
    for token in tokens:
        _attach(api_client, customer["id"], token.id)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = api_client.delete(f"/api/v1/customers/{customer['id']}")
    again = api_client.delete(f"/api/v1/customers/{customer['id']}")

    assert deleted.status_code == 200, deleted.content
    body = deleted.json()
    assert body["deleted"] is True
    assert (body["name"], body["email"], body["metadata"]) == ("", "", {})
    assert again.status_code == 200 and again.json() == body
    assert api_client.get(f"/api/v1/customers/{customer['id']}").json() == body
    assert api_client.get("/api/v1/customers").json()["data"] == []
    for token in tokens:
        token.refresh_from_db()
        assert token.status == Token.Status.REVOKED and token.card_data_id is None
    row = Customer.objects.get(pk=customer["id"])
    assert (row.name, row.email) == ("", "")
    changed = api_client.post(f"/api/v1/customers/{customer['id']}", {"name": "x"}, format="json")
    assert changed.status_code == 404 and changed.json()["code"] == "customer_not_found"
    attach = _attach(api_client, customer["id"], token_factory().id)
    assert attach.status_code == 404
    # Events and audit: the deleted customer's event carries no personal data.
    event = Event.objects.get(type="customer.deleted")
    assert EMAIL not in event.payload and "Ada" not in event.payload
    assert Event.objects.filter(type="customer.card.detached").count() == 2
    assert Event.objects.filter(type="token.revoked").count() == 2
    actions = list(
        AuditEvent.objects.filter(object_id=customer["id"]).values_list("action", flat=True)
    )
    assert actions.count("customer.delete") == 1
    assert actions.count("customer.card_detach") == 2


def test_events_announce_creation_updates_and_saved_cards(
    api_client: APIClient,
    token: Token,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post("/api/v1/customers", {"name": "Ada"}, format="json").json()
        api_client.post(f"/api/v1/customers/{created['id']}", {"name": "Ada L"}, format="json")
        _attach(api_client, created["id"], token.id)

    types = list(Event.objects.order_by("created_at", "id").values_list("type", flat=True))
    assert types == [
        "customer.created",
        "customer.updated",
        "customer.card.attached",
        "customer.updated",  # the card became the default
    ]
    attached = Event.objects.get(type="customer.card.attached")
    assert attached.object_type == "customer_card" and attached.object_id == token.id


def test_a_second_merchant_never_sees_a_customer(
    api_client: APIClient, customer: dict[str, Any], other_merchant: Merchant, token: Token
) -> None:
    _attach(api_client, customer["id"], token.id)
    stranger = _key_client(other_merchant)
    path = f"/api/v1/customers/{customer['id']}"

    answers = [
        stranger.get(path),
        stranger.post(path, {"name": "Mallory"}, format="json"),
        stranger.delete(path),
        stranger.get(f"{path}/cards"),
        stranger.delete(f"{path}/cards/{token.id}"),
        _attach(stranger, customer["id"], token.id),
    ]

    assert [a.status_code for a in answers] == [404] * 6
    assert {a.json()["code"] for a in answers} == {"customer_not_found"}
    assert stranger.get("/api/v1/customers").json()["data"] == []
    row = Customer.objects.get(pk=customer["id"])
    assert (row.name, row.deleted_at) == ("Ada Lovelace", None)
    token.refresh_from_db()
    assert token.status == Token.Status.ACTIVE


def test_a_customer_of_one_mode_is_unknown_to_the_other(
    api_client: APIClient, customer: dict[str, Any], merchant: Merchant
) -> None:
    live = _key_client(merchant, live=True)

    assert live.get(f"/api/v1/customers/{customer['id']}").status_code == 404
    assert live.get("/api/v1/customers").json()["data"] == []
    made = live.post("/api/v1/customers", {"name": "Live"}, format="json").json()
    assert made["livemode"] is True
    assert [c["id"] for c in api_client.get("/api/v1/customers").json()["data"]] == [customer["id"]]


def test_a_card_of_another_merchant_cannot_be_saved(
    api_client: APIClient, customer: dict[str, Any], other_merchant: Merchant
) -> None:
    foreign = TokenFactory.create(merchant=other_merchant)

    response = _attach(api_client, customer["id"], foreign.id)

    assert response.status_code == 422 and response.json()["code"] == "token_not_found"


def test_writes_are_idempotent(api_client: APIClient, token: Token) -> None:
    first = api_client.post(
        "/api/v1/customers", {"name": "Ada"}, format="json", HTTP_IDEMPOTENCY_KEY="cus-1"
    )
    replay = api_client.post(
        "/api/v1/customers", {"name": "Ada"}, format="json", HTTP_IDEMPOTENCY_KEY="cus-1"
    )
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert Customer.objects.count() == 1

    path = f"/api/v1/customers/{first.json()['id']}/cards"
    attach = api_client.post(path, {"token": token.id}, format="json", HTTP_IDEMPOTENCY_KEY="a-1")
    again = api_client.post(path, {"token": token.id}, format="json", HTTP_IDEMPOTENCY_KEY="a-1")
    assert (attach.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"


def test_the_email_never_reaches_a_log_line(
    api_client: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api_client.post("/api/v1/customers", {"name": "Ada", "email": EMAIL}, format="json")
    api_client.post("/api/v1/customers", {"email": "broken@"}, format="json")

    assert EMAIL not in caplog.text and "broken@" not in caplog.text
    assert redact({"email": EMAIL, "customer_email": EMAIL}) == {
        "email": MASK,
        "customer_email": MASK,
    }


def test_the_card_list_pages_with_cursors_both_ways(
    api_client: APIClient, customer: dict[str, Any], token_factory: Callable[..., Token]
) -> None:
    numbers = [c["number"] for c in load_cards()["approve"][:5]]
    saved = [token_factory(number=n).id for n in numbers]
    for token_id in saved:
        assert _attach(api_client, customer["id"], token_id).status_code == 201
    newest_first = saved[::-1]
    path = f"/api/v1/customers/{customer['id']}/cards"

    first = api_client.get(path, {"limit": 2}).json()
    second = api_client.get(path, {"limit": 2, "starting_after": first["data"][-1]["id"]}).json()
    last = api_client.get(path, {"limit": 2, "starting_after": second["data"][-1]["id"]}).json()
    back = api_client.get(path, {"limit": 2, "ending_before": last["data"][0]["id"]}).json()
    whole = api_client.get(path).json()

    assert [c["id"] for c in first["data"]] == newest_first[:2] and first["has_more"] is True
    assert [c["id"] for c in second["data"]] == newest_first[2:4] and second["has_more"] is True
    assert [c["id"] for c in last["data"]] == newest_first[4:] and last["has_more"] is False
    assert [c["id"] for c in back["data"]] == newest_first[2:4] and back["has_more"] is True
    assert [c["id"] for c in whole["data"]] == newest_first and whole["has_more"] is False
    assert whole["object"] == "list"


def test_the_card_list_refuses_cursors_that_are_not_its_cards(
    api_client: APIClient, customer: dict[str, Any], token_factory: Callable[..., Token]
) -> None:
    mine, detached, elsewhere = (
        token_factory(),
        token_factory(number="5555555555554444"),
        token_factory(number="6011111111111117"),
    )
    other = api_client.post("/api/v1/customers", {"name": "Other"}, format="json").json()
    _attach(api_client, customer["id"], mine.id)
    _attach(api_client, customer["id"], detached.id)
    api_client.delete(f"/api/v1/customers/{customer['id']}/cards/{detached.id}")
    _attach(api_client, other["id"], elsewhere.id)
    path = f"/api/v1/customers/{customer['id']}/cards"

    answers = {
        cursor: api_client.get(path, {"starting_after": cursor})
        for cursor in (detached.id, elsewhere.id, "tok_" + "0" * 24)
    }
    both = api_client.get(path, {"starting_after": mine.id, "ending_before": mine.id})
    unknown = api_client.get(path, {"after": mine.id})
    too_many = api_client.get(path, {"limit": 101})

    for cursor, answer in answers.items():
        assert answer.status_code == 400, cursor
        assert answer.json()["errors"][0]["field"] == "starting_after"
    assert both.status_code == 400 and both.json()["errors"][0]["field"] == "ending_before"
    assert unknown.status_code == 400 and unknown.json()["code"] == "parameter_unknown"
    assert too_many.status_code == 400 and too_many.json()["errors"][0]["field"] == "limit"
    assert [c["id"] for c in api_client.get(path).json()["data"]] == [mine.id]
