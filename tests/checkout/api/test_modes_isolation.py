"""Test and live mode kept apart, generated from the OpenAPI schema.

One merchant holds one of every resource in mode A (made through the API with its A key);
another merchant holds the same in mode B. With the first merchant's B key, every operation of
the schema is tried against the A objects (path ids, body ids, list filters, cursors) and must
answer exactly as it answers for the other merchant's objects (404 or the same 4xx, same body
but for the id); lists show nothing of mode A; an Idempotency-Key used in mode A is never
replayed in mode B; and nothing of mode A changed. Both directions. A new operation or a new
kind of id in the schema is covered without anyone listing it (an unknown path parameter fails
the test until ``IDS`` says which resource it names).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.serializers import serialize
from django.db.models import Model
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from checkout.billing.models import Subscription
from checkout.customers.models import Customer, CustomerCard
from checkout.payments.idempotency.models import IdempotencyKey
from checkout.payments.models import Charge, Refund
from checkout.relay.models import Forward, ForwardDestination
from checkout.relay.services import destination_register
from checkout.sessions.models import CheckoutSession
from checkout.webhooks.models import Event, WebhookDelivery, WebhookEndpoint
from tests.checkout.relay.destination import Destination, destination_server
from tests.checkout.webhooks.conftest import TlsFiles
from tests.checkout.webhooks.conftest import tls_files as tls_files  # the tests' own CA
from tests.factories import APPROVED, MerchantFactory, TokenFactory
from vault.merchants import api_key_create
from vault.models import Merchant, ModeOwned, Token

pytestmark = pytest.mark.django_db

PUBLIC_HOST = "hooks.modes.example"
LIVE_NUMBER = "4111111111111111"  # Luhn-valid, not one of the public test cards
PUBLIC_ADDRESS = "93.184.216.34"
# A forwarding destination: a real HTTPS server on 127.0.0.1 (allowlisted in test settings).
RELAY_HOST = "relay.modes.example"

# Which resource each path parameter, body field and query parameter of the schema names.
IDS = {
    "charge_id": "charge",
    "subscription_id": "subscription",
    "session_id": "session",
    "event_id": "event",
    "endpoint_id": "endpoint",
    "token_id": "token",
    "refund_id": "refund",
    "customer_id": "customer",
    "forward_id": "forward",
}
BODY_IDS = {"token": "token", "default_token": "token"}
QUERY_IDS = {
    "token": "token",
    "subscription": "subscription",
    "object": "charge",
    "charge": "charge",
    "customer": "customer",
}
CURSORS = ("starting_after", "ending_before")
# The resource each list operation lists (its cursor is an id of that resource).
LISTS = {
    "/api/v1/charges": "charge",
    "/api/v1/subscriptions": "subscription",
    "/api/v1/events": "event",
    "/api/v1/webhook_endpoints": "endpoint",
    "/api/v1/tokens": "token",
    "/api/v1/checkout/sessions": "session",
    "/api/v1/refunds": "refund",
    "/api/v1/customers": "customer",
}
# A valid body for each operation that takes one (ids are filled in per world).
BODIES: dict[str, dict[str, Any]] = {
    "charges_create": {"token": "{token}", "amount": 1500, "currency": "EUR"},
    "charges_refunds_create": {"amount": 100},
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
        "url": f"https://{PUBLIC_HOST}/hook",
        "enabled_events": ["token.revoked"],
    },
    "webhook_endpoints_update": {"description": "changed"},
    "subscriptions_cancel": {},
    "tokens_revoke": {"reason": "mode test"},
    "customers_create": {"name": "Ada Lovelace", "email": "ada@example.com"},
    "customers_update": {"description": "changed", "default_token": "{token}"},
    "customers_cards_attach": {"token": "{token}", "default": True},
    "forward_create": {
        "token": "{token}",
        "url": "{relay_url}",
        "body": '{"pan": "{{card.number}}"}',
        "purpose": "mode test",
    },
}
OWNED: tuple[type[Model], ...] = (
    Token,
    Charge,
    Refund,
    Subscription,
    CheckoutSession,
    Event,
    WebhookEndpoint,
    WebhookDelivery,
    IdempotencyKey,
    Customer,
    CustomerCard,
    ForwardDestination,
    Forward,
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    idempotent: bool
    has_body: bool


def _operations() -> list[Operation]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, item in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, op in item.items():
            params = op.get("parameters", [])
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    operation_id=op["operationId"],
                    path_params=tuple(p["name"] for p in params if p["in"] == "path"),
                    query_params=tuple(p["name"] for p in params if p["in"] == "query"),
                    idempotent=any(
                        p["in"] == "header" and p["name"] == "Idempotency-Key" for p in params
                    ),
                    has_body="requestBody" in op,
                )
            )
    return found


OPERATIONS = _operations()


@dataclass
class World:
    """One merchant's resources in one mode, and clients for both of its modes."""

    merchant: Merchant
    livemode: bool
    ids: dict[str, str]
    client: APIClient  # the key of the world's own mode
    other_mode: APIClient  # the same merchant's key of the other mode


def _client(merchant: Merchant, *, live: bool) -> APIClient:
    client = APIClient()
    secret = api_key_create(merchant=merchant, mode="live" if live else "test").secret
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.content
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if str(host) == PUBLIC_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_ADDRESS, int(port or 0)))]
        if str(host) == RELAY_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port or 0)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def relay_destination(tls_files: Callable[[str], TlsFiles], settings: Any) -> Iterator[Destination]:
    files = tls_files(RELAY_HOST)
    settings.RELAY_CA_BUNDLE = str(files.ca)
    with destination_server(
        certfile=str(files.cert), keyfile=str(files.key), host=RELAY_HOST
    ) as destination:
        yield destination


@pytest.fixture
def build_world(
    django_capture_on_commit_callbacks: Callable[..., Any], relay_destination: Destination
) -> Callable[[Merchant, bool], World]:
    def build(merchant: Merchant, livemode: bool) -> World:
        client = _client(merchant, live=livemode)
        ids: dict[str, str] = {"relay_url": relay_destination.url("/cards")}
        # The operator registered the partner in both modes: a refusal below is then about
        # the token, never about a destination missing in one mode.
        for mode in (False, True):
            destination_register(
                merchant=merchant,
                livemode=mode,
                name="Partner",
                host=RELAY_HOST,
                port=relay_destination.port,
                path_prefix="/cards",
                allowed_fields=["number"],
                actor="test:operator",
            )
        with django_capture_on_commit_callbacks(execute=True):
            # A public test card in test mode, a real-looking card in live mode.
            number = LIVE_NUMBER if livemode else APPROVED
            ids["token"] = TokenFactory.create(
                merchant=merchant.in_mode(livemode), number=number
            ).id
            charge = _ok(
                client.post(
                    "/api/v1/charges",
                    {"token": ids["token"], "amount": 5000, "currency": "EUR"},
                    format="json",
                    HTTP_IDEMPOTENCY_KEY="shared-key-charge",
                )
            )
            ids["charge"] = charge["id"]
            ids["refund"] = _ok(
                client.post(
                    f"/api/v1/charges/{ids['charge']}/refunds",
                    {"amount": 100},
                    format="json",
                    HTTP_IDEMPOTENCY_KEY="shared-key-refund",
                )
            )["id"]
            ids["subscription"] = _ok(
                client.post(
                    "/api/v1/subscriptions",
                    {**BODIES["subscriptions_create"], "token": ids["token"]},
                    format="json",
                )
            )["id"]
            ids["session"] = _ok(
                client.post(
                    "/api/v1/checkout/sessions", BODIES["checkout_sessions_create"], format="json"
                )
            )["id"]
            ids["customer"] = _ok(
                client.post("/api/v1/customers", BODIES["customers_create"], format="json")
            )["id"]
            _ok(
                client.post(
                    f"/api/v1/customers/{ids['customer']}/cards",
                    {"token": ids["token"]},
                    format="json",
                )
            )
            ids["endpoint"] = _ok(
                client.post(
                    "/api/v1/webhook_endpoints", BODIES["webhook_endpoints_create"], format="json"
                )
            )["id"]
            ids["forward"] = _ok(
                client.post("/api/v1/forward", _fill(BODIES["forward_create"], ids), format="json")
            )["id"]
        ids["event"] = Event.objects.owned_by(merchant.in_mode(livemode)).first().pk  # type: ignore[union-attr]
        return World(
            merchant=merchant,
            livemode=livemode,
            ids=ids,
            client=client,
            other_mode=_client(merchant, live=not livemode),
        )

    return build


@pytest.fixture(params=[False, True], ids=["test-objects", "live-objects"])
def worlds(
    request: pytest.FixtureRequest, build_world: Callable[[Merchant, bool], World]
) -> tuple[World, World]:
    """(A: the merchant's objects in one mode, C: another merchant's in the other mode)."""
    livemode: bool = request.param
    owner = build_world(MerchantFactory.create(name="Owner"), livemode)
    stranger = build_world(MerchantFactory.create(name="Stranger"), not livemode)
    return owner, stranger


def _snapshot(livemode: bool) -> str:
    rows = []
    for model in OWNED:
        rows.append(
            serialize("json", model._default_manager.filter(livemode=livemode).order_by("pk"))
        )
    return "\n".join(rows)


def _normalised(response: Any, *ids: str) -> tuple[int, str]:
    text = response.content.decode()
    for value in ids:
        text = text.replace(value, "<id>")
    if response.get("Content-Type", "").startswith("application/problem+json"):
        body = json.loads(text)
        body.pop("request_id", None)
        text = json.dumps(body, sort_keys=True)
    return response.status_code, text


def _fill(template: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    return {
        k: (ids[v[1:-1]] if isinstance(v, str) and v[1:-1] in ids else v)
        for k, v in template.items()
    }


def _call(client: APIClient, op: Operation, ids: dict[str, str], **extra: Any) -> Any:
    path = op.path
    for name in op.path_params:
        assert name in IDS, f"{op.operation_id}: say in IDS which resource {{{name}}} names"
        path = path.replace("{" + name + "}", ids[IDS[name]])
    body = _fill(BODIES.get(op.operation_id, {}), ids) if op.has_body else None
    query = extra.pop("query", None)
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return getattr(client, op.method.lower())(path, body, format="json", **extra)


def _references(op: Operation) -> bool:
    return bool(op.path_params) or (
        op.has_body and any(f in BODIES.get(op.operation_id, {}) for f in BODY_IDS)
    )


def test_the_schema_has_operations_of_every_kind() -> None:
    """The generated cases below are only as good as what the schema lists."""
    kinds = {(op.method, bool(op.path_params)) for op in OPERATIONS}
    assert {
        ("GET", True),
        ("GET", False),
        ("POST", True),
        ("POST", False),
        ("DELETE", True),
    } <= kinds
    assert sum(op.idempotent for op in OPERATIONS) >= 5
    # Every list is in LISTS (a new one must say what it lists, and is then covered below).
    singletons = {"/api/v1/merchant"}
    lists = {op.path for op in OPERATIONS if op.method == "GET" and not op.path_params}
    assert lists - singletons == set(LISTS)


@pytest.mark.parametrize(
    "op", [op for op in OPERATIONS if _references(op)], ids=lambda op: op.operation_id
)
def test_an_id_of_the_other_mode_answers_like_another_merchants(
    op: Operation, worlds: tuple[World, World]
) -> None:
    owner, stranger = worlds
    before = _snapshot(owner.livemode)

    # The owner's B key (stranger's mode) on the owner's A objects…
    across_modes = _call(owner.other_mode, op, owner.ids)
    # …answers exactly as the stranger's own key on the owner's objects, and as the stranger's
    # B key on objects that do not exist.
    across_merchants = _call(stranger.client, op, owner.ids)

    assert 400 <= across_modes.status_code < 500, across_modes.content
    owner_ids = list(owner.ids.values())
    assert _normalised(across_modes, *owner_ids) == _normalised(across_merchants, *owner_ids)
    assert _snapshot(owner.livemode) == before


@pytest.mark.parametrize(
    "op",
    [op for op in OPERATIONS if op.method == "GET" and op.path in LISTS],
    ids=lambda op: op.operation_id,
)
def test_lists_filters_and_cursors_show_nothing_of_the_other_mode(
    op: Operation, worlds: tuple[World, World]
) -> None:
    owner, stranger = worlds
    owner_ids = set(owner.ids.values())

    # The plain list in the other mode holds none of the owner's objects.
    listed = owner.other_mode.get(op.path)
    assert listed.status_code == 200
    assert not owner_ids & {item["id"] for item in listed.json()["data"]}
    # …while in their own mode they are there (so the check above could fail).
    own = owner.client.get(op.path).json()["data"]
    assert owner.ids[LISTS[op.path]] in {item["id"] for item in own}
    assert {item["livemode"] for item in own} == {owner.livemode}

    # Every id filter and cursor with an id of the other mode answers as another merchant's.
    for name in op.query_params:
        resource = LISTS[op.path] if name in CURSORS else QUERY_IDS.get(name)
        if resource is None:
            continue
        query = {name: owner.ids[resource]}
        across_modes = owner.other_mode.get(op.path, query)
        across_merchants = stranger.client.get(op.path, query)
        assert _normalised(across_modes, *owner_ids) == _normalised(across_merchants, *owner_ids), (
            name
        )
        if across_modes.status_code == 200:
            assert not owner_ids & {item["id"] for item in across_modes.json()["data"]}, name


@pytest.mark.parametrize(
    "op", [op for op in OPERATIONS if op.idempotent], ids=lambda op: op.operation_id
)
def test_an_idempotency_key_of_one_mode_is_never_replayed_in_the_other(
    op: Operation, worlds: tuple[World, World]
) -> None:
    owner, stranger = worlds
    key = f"mode-key-{op.operation_id}"
    first = _call(owner.client, op, owner.ids, HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code < 500, first.content
    replay = _call(owner.client, op, owner.ids, HTTP_IDEMPOTENCY_KEY=key)
    assert replay["Idempotent-Replayed"] == "true"  # the key binds in its own mode

    # The same key and the same request in the other mode is a fresh request there: it runs,
    # and it answers exactly as the same request without a key would.
    before = _snapshot(owner.livemode)
    across = _call(owner.other_mode, op, owner.ids, HTTP_IDEMPOTENCY_KEY=key)
    assert not across.has_header("Idempotent-Replayed")
    assert across.content != first.content
    fresh = _call(stranger.client, op, owner.ids, HTTP_IDEMPOTENCY_KEY=f"{key}-fresh")
    owner_ids = list(owner.ids.values())
    if not _references(op):  # a create: each answers its own new object
        assert across.status_code == fresh.status_code
        assert across.json()["livemode"] is (not owner.livemode)
    else:
        assert _normalised(across, *owner_ids) == _normalised(fresh, *owner_ids)
    assert _snapshot(owner.livemode) == before


def test_every_api_object_and_event_says_its_mode(
    worlds: tuple[World, World],
) -> None:
    owner, _ = worlds
    for op in OPERATIONS:
        if op.method != "GET":
            continue
        response = _call(owner.client, op, owner.ids)
        assert response.status_code == 200, (op.operation_id, response.content)
        body = response.json()
        objects = body["data"] if body.get("object") == "list" else [body]
        assert objects, op.operation_id
        for obj in objects:
            assert obj["livemode"] is owner.livemode, op.operation_id
            if obj.get("object") == "event":
                assert obj["data"]["object"]["livemode"] is owner.livemode


def test_every_merchant_owned_model_has_a_mode() -> None:
    """Anything with a merchant has ``livemode`` through ``ModeOwned`` (or, like deliveries,
    through its owner): a model added later cannot skip it."""
    from django.apps import apps

    for model in apps.get_models():
        names = {f.name for f in model._meta.get_fields()}
        if "merchant" in names and model.__name__ not in {"ApiKey"}:
            assert issubclass(model, ModeOwned), model.__name__
    assert "livemode" in {f.name for f in WebhookDelivery._meta.get_fields()}
