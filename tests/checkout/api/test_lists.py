"""Every list of the OpenAPI schema pages the same way, in both modes: read page by page with
``starting_after`` it holds exactly the objects of one full page; read back from its end with
``ending_before`` it gives the same pages in the same order; ties on ``created`` are broken by
id, so no object is skipped or repeated at a page boundary. A list added to the schema fails
here until ``MAKERS`` says how to make a few of its objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Model
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from checkout.billing.models import Subscription
from checkout.customers.models import Customer
from checkout.payments.models import Charge, Refund
from checkout.sessions.models import CheckoutSession
from checkout.webhooks.models import Event, WebhookEndpoint
from tests.factories import TokenFactory
from vault.merchants import api_key_create
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db

LIVE_NUMBER = "4111111111111111"  # Luhn-valid, not one of the public test cards
PER_LIST = 5
SINGLETONS = {"/api/v1/merchant"}


def _list_paths() -> list[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        path
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/") and "{" not in path and "get" in item
        if path not in SINGLETONS
    )


LIST_PATHS = _list_paths()


@dataclass
class Shop:
    merchant: Merchant  # in the mode of ``client``
    client: APIClient
    livemode: bool
    commit: Callable[..., Any]  # django_capture_on_commit_callbacks: events follow commits

    def token(self) -> str:
        number = LIVE_NUMBER if self.livemode else "4242424242424242"
        return TokenFactory.create(merchant=self.merchant, number=number).id

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.commit(execute=True):
            response = self.client.post(path, body, format="json")
        assert response.status_code in (200, 201), response.content
        answer: dict[str, Any] = response.json()
        return answer


def _charge(shop: Shop) -> str:
    body = {"token": shop.token(), "amount": 1500, "currency": "EUR"}
    return shop.post("/api/v1/charges", body)["id"]


def _subscription(shop: Shop) -> str:
    body = {"token": shop.token(), "amount": 900, "currency": "EUR", "interval": "month"}
    return shop.post("/api/v1/subscriptions", body)["id"]


def _endpoint(shop: Shop) -> str:
    body = {"url": "http://127.0.0.1:9/hook", "enabled_events": ["token.revoked"]}
    return shop.post("/api/v1/webhook_endpoints", body)["id"]


def _session(shop: Shop) -> str:
    body = {
        "mode": "setup",
        "success_url": "https://shop.example/thanks",
        "cancel_url": "https://shop.example/cart",
    }
    return shop.post("/api/v1/checkout/sessions", body)["id"]


def _refund(shop: Shop) -> str:
    return shop.post(f"/api/v1/charges/{_charge(shop)}/refunds", {"amount": 100})["id"]


def _customer(shop: Shop) -> str:
    return shop.post("/api/v1/customers", {"name": "Ada"})["id"]


def _token(shop: Shop) -> str:
    return shop.token()


def _event(shop: Shop) -> str:
    _charge(shop)  # each charge records its charge.succeeded
    event = Event.objects.owned_by(shop.merchant).order_by("-created_at", "-pk").first()
    assert event is not None
    return event.pk


# For each list: how to make one of its objects (its id), and its model (to force ties).
MAKERS: dict[str, tuple[Callable[[Shop], str], type[Model]]] = {
    "/api/v1/charges": (_charge, Charge),
    "/api/v1/checkout/sessions": (_session, CheckoutSession),
    "/api/v1/refunds": (_refund, Refund),
    "/api/v1/customers": (_customer, Customer),
    "/api/v1/events": (_event, Event),
    "/api/v1/subscriptions": (_subscription, Subscription),
    "/api/v1/tokens": (_token, Token),
    "/api/v1/webhook_endpoints": (_endpoint, WebhookEndpoint),
}


def test_every_list_of_the_schema_is_covered() -> None:
    assert set(LIST_PATHS) == set(MAKERS)
    assert len(LIST_PATHS) >= 7


def _shop(merchant: Merchant, commit: Callable[..., Any], *, live: bool) -> Shop:
    client = APIClient()
    secret = api_key_create(merchant=merchant, mode="live" if live else "test").secret
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return Shop(merchant=merchant.in_mode(live), client=client, livemode=live, commit=commit)


def _page(shop: Shop, path: str, **query: Any) -> tuple[list[str], bool]:
    response = shop.client.get(path, query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "list"
    assert {item["livemode"] for item in body["data"]} <= {shop.livemode}
    return [item["id"] for item in body["data"]], body["has_more"]


@pytest.mark.parametrize("path", LIST_PATHS)
@pytest.mark.parametrize("live", [False, True], ids=["test", "live"])
def test_forward_and_backward_pages_agree(
    path: str,
    live: bool,
    merchant: Merchant,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    make, model = MAKERS[path]
    commit = django_capture_on_commit_callbacks
    shop, other_mode = _shop(merchant, commit, live=live), _shop(merchant, commit, live=not live)
    made = [make(shop) for _ in range(PER_LIST)]
    made_elsewhere = make(other_mode)
    # Three of them made at the same instant: only the id orders them.
    tied = model._default_manager.get(pk=made[1]).created_at  # type: ignore[attr-defined]
    model._default_manager.filter(pk__in=made[1:4]).update(created_at=tied)

    everything, more = _page(shop, path, limit=100)
    assert not more
    assert set(made) <= set(everything)
    assert made_elsewhere not in everything
    assert len(everything) >= PER_LIST

    # Forward, two at a time.
    forward: list[list[str]] = []
    ids, more = _page(shop, path, limit=2)
    forward.append(ids)
    while more:
        ids, more = _page(shop, path, limit=2, starting_after=forward[-1][-1])
        forward.append(ids)
    assert [i for page in forward for i in page] == everything

    # Backward from the last object, two at a time: the pages before it, newest first.
    backward: list[list[str]] = []
    ids, more = _page(shop, path, limit=2, ending_before=everything[-1])
    backward.append(ids)
    while more:
        ids, more = _page(shop, path, limit=2, ending_before=backward[-1][0])
        backward.append(ids)
    assert [i for page in reversed(backward) for i in page] == everything[:-1]
    # Before the first there is nothing; after the last, nothing either.
    assert _page(shop, path, ending_before=everything[0]) == ([], False)
    assert _page(shop, path, starting_after=everything[-1]) == ([], False)
    # A page read back with ending_before from where the next one starts is the same page.
    second = forward[1]
    assert _page(shop, path, limit=2, ending_before=forward[2][0]) == (second, True)


@pytest.mark.parametrize("path", LIST_PATHS)
def test_a_cursor_of_the_other_mode_or_both_cursors_are_refused(
    path: str, merchant: Merchant, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    make, _ = MAKERS[path]
    commit = django_capture_on_commit_callbacks
    shop, other_mode = _shop(merchant, commit, live=False), _shop(merchant, commit, live=True)
    mine, elsewhere = make(shop), make(other_mode)

    for cursor in ("starting_after", "ending_before"):
        answer = shop.client.get(path, {cursor: elsewhere})
        assert answer.status_code == 400
        assert answer.json()["errors"][0]["field"] == cursor
    both = shop.client.get(path, {"starting_after": mine, "ending_before": mine})
    assert both.status_code == 400
    assert both.json()["errors"][0]["field"] == "ending_before"
