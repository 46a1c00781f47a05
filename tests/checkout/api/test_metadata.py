"""``metadata`` on every object a merchant creates, checked by one validator (Stripe's limits and
the card detector), generated over the OpenAPI schema: every operation that answers ``201``
with an object takes ``metadata``, shows it back, and refuses each bad set with a 400 naming
``metadata`` while creating nothing. The vault's card ingest is the shopper's, not the
merchant's, and is left out; so is attaching a card to a customer (the token exists already).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from checkout.relay.services import destination_register
from tests.factories import TokenFactory
from tests.support.leaks import assert_no_card_number
from vault.models import Merchant

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
CLOSED_PORT = 9
# Not objects the merchant creates: the shopper's card ingest, and attaching a token that
# exists already to a customer.
NOT_THE_MERCHANTS = {"vault_cards_create", "customers_cards_attach"}
CREATES = sorted(
    (op["operationId"], path)
    for path, item in SCHEMA["paths"].items()
    for method, op in item.items()
    if method == "post" and "201" in op["responses"] and op["operationId"] not in NOT_THE_MERCHANTS
)
BODIES: dict[str, dict[str, Any]] = {
    "charges_create": {"token": "{token}", "amount": 1500, "currency": "EUR"},
    "charges_refunds_create": {"amount": 100},
    "customers_create": {"name": "Ada Lovelace"},
    "subscriptions_create": {
        "token": "{token}",
        "amount": 900,
        "currency": "EUR",
        "interval": "month",
    },
    "checkout_sessions_create": {
        "mode": "payment",
        "amount": 1999,
        "currency": "EUR",
        "success_url": "https://shop.example/thanks",
        "cancel_url": "https://shop.example/cart",
    },
    "webhook_endpoints_create": {
        "url": "http://127.0.0.1:9/hook",
        "enabled_events": ["token.revoked"],
    },
    # To a destination registered on a closed port: the forward is made, and fails, either way.
    "forward_create": {
        "token": "{token}",
        "url": f"https://127.0.0.1:{CLOSED_PORT}/v1/cards",
        "body": '{"pan": "{{card.number}}"}',
        "purpose": "metadata test",
    },
}
BAD = {
    "too_many_keys": {f"k{n}": "v" for n in range(51)},
    "key_too_long": {"k" * 41: "v"},
    "empty_key": {"": "v"},
    "value_too_long": {"k": "v" * 501},
    "not_a_string": {"k": 5},
    "nested": {"k": {"a": "b"}},
    "card_in_value": {"note": "4242 4242 4242 4242"},
    "card_in_key": {"4242-4242-4242-4242": "x"},
}
GOOD = {f"key{n:02}": "x" * 500 for n in range(49)} | {"k" * 40: ""}


def test_every_merchant_create_is_covered() -> None:
    assert {op for op, _ in CREATES} == set(BODIES)
    for _, path in CREATES:
        op = SCHEMA["paths"][path]["post"]
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = SCHEMA["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        assert "metadata" in body["properties"], path


def _fill(template: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    return {k: ids.get(str(v)[1:-1], v) for k, v in template.items()}


def _request(client: APIClient, merchant: Merchant, op: str, path: str) -> Callable[[Any], Any]:
    """What to POST for ``op``, its prerequisites (a token, a charge) made first."""
    ids = {"token": TokenFactory.create(merchant=merchant).id}
    if op == "forward_create":
        destination_register(
            merchant=merchant,
            livemode=False,
            name="Partner",
            host="127.0.0.1",
            port=CLOSED_PORT,
            path_prefix="/v1/cards",
            allowed_fields=["number"],
            actor="test:operator",
        )
    if "{charge_id}" in path:
        charge = client.post("/api/v1/charges", _fill(BODIES["charges_create"], ids), format="json")
        path = path.replace("{charge_id}", charge.json()["id"])
    body = _fill(BODIES[op], ids)
    return lambda metadata: client.post(path, {**body, "metadata": metadata}, format="json")


def _counts() -> dict[str, int]:
    models = apps.get_app_config("checkout").get_models()
    return {m.__name__: m._default_manager.count() for m in models}


@pytest.mark.parametrize(("op", "path"), CREATES, ids=[op for op, _ in CREATES])
def test_metadata_is_kept_and_shown(
    op: str,
    path: str,
    api_client: APIClient,
    merchant: Merchant,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    send = _request(api_client, merchant, op, path)
    with django_capture_on_commit_callbacks(execute=True):
        response = send(GOOD)

    assert response.status_code == 201, response.content
    assert response.json()["metadata"] == GOOD


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize(("op", "path"), CREATES, ids=[op for op, _ in CREATES])
def test_bad_metadata_is_refused_naming_it_and_creates_nothing(
    op: str, path: str, case: str, api_client: APIClient, merchant: Merchant
) -> None:
    send = _request(api_client, merchant, op, path)
    before = _counts()

    response = send(BAD[case])

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    fields = {e["field"].split(".")[0] for e in response.json().get("errors", [])}
    assert fields == {"metadata"}, response.json()
    assert_no_card_number(response.content.decode())
    assert _counts() == before
