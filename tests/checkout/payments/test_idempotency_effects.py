"""Every write's effect is bound to its idempotency record: generated from the OpenAPI schema
(every state-changing operation), then each one made to die right after its effect commits
and retried once its key's lock has lapsed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_create
from checkout.payments.idempotency import api as idempotency_api
from checkout.payments.idempotency.models import IdempotencyKey
from checkout.payments.idempotency.services import (
    idempotency_begin,
    idempotency_complete,
    idempotency_effect_bind,
)
from checkout.payments.models import Charge, Refund
from checkout.payments.services import charge_create
from checkout.sessions.models import CheckoutSession
from checkout.webhooks.models import WebhookEndpoint, WebhookSecret
from checkout.webhooks.services import webhook_endpoint_create
from payments_site.kernel.idempotency import EffectAlreadyBound
from tests.factories import TokenFactory
from vault.merchants import IssuedKey
from vault.models import Merchant, Token

GENERATOR = SchemaGenerator()
SCHEMA = GENERATOR.get_schema(request=None, public=True)
ENDPOINTS: list[Any] = list(GENERATOR.endpoints or [])
VIEWS = {(path, method): callback.cls for path, _, method, callback in ENDPOINTS}
WRITES = [
    (method.upper(), path, operation)
    for path, ops in SCHEMA["paths"].items()
    for method, operation in ops.items()
    if method in {"post", "put", "patch", "delete"}
    # The card ingest is made idempotent by its signed JWT instead: its jti is a unique row,
    # so a retried card is a 409 replay and never a second token.
    and not path.startswith("/vault/")
]


@pytest.mark.parametrize("op", WRITES, ids=[op[2]["operationId"] for op in WRITES])
def test_every_write_in_the_schema_is_idempotent_and_says_so(op: tuple[str, str, Any]) -> None:
    method, path, operation = op
    handler = getattr(VIEWS[(path, method)], method.lower())

    assert callable(getattr(handler, "idempotent_effect", None)), f"{path} is not @idempotent"
    headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
    assert "Idempotency-Key" in headers


# --- died after the commit, retried after the lock lapsed -------------------------------------


class Died(BaseException):
    """What a worker killed mid-request looks like from inside: nothing after it runs."""


def _key_lapses(key: str) -> None:
    IdempotencyKey.objects.filter(key=key).update(locked_at=timezone.now() - timedelta(hours=1))


Setup = Callable[[Merchant, Token], tuple[str, str, dict[str, Any] | None, Callable[[], int]]]


def _charge(merchant: Merchant, token: Token) -> Any:
    return (
        "POST",
        "/api/v1/charges",
        {"token": token.id, "amount": 500, "currency": "EUR"},
        lambda: Charge.objects.count(),
    )


def _refund(merchant: Merchant, token: Token) -> Any:
    paid = charge_create(merchant=merchant, token_id=token.id, amount=900, currency="EUR")
    return (
        "POST",
        f"/api/v1/charges/{paid.id}/refunds",
        {"amount": 100},
        lambda: Refund.objects.count(),
    )


def _subscription(merchant: Merchant, token: Token) -> Any:
    body = {"token": token.id, "amount": 900, "currency": "EUR", "interval": "month"}
    return ("POST", "/api/v1/subscriptions", body, lambda: Subscription.objects.count())


def _session(merchant: Merchant, token: Token) -> Any:
    body = {
        "mode": "setup",
        "success_url": "https://a.example/",
        "cancel_url": "https://a.example/",
    }
    return ("POST", "/api/v1/checkout/sessions", body, lambda: CheckoutSession.objects.count())


def _endpoint(merchant: Merchant, token: Token) -> Any:
    body = {"url": "https://127.0.0.1:9/h", "enabled_events": ["token.revoked"]}
    return ("POST", "/api/v1/webhook_endpoints", body, lambda: WebhookEndpoint.objects.count())


def _roll(merchant: Merchant, token: Token) -> Any:
    endpoint, _ = webhook_endpoint_create(
        merchant=merchant, url="https://127.0.0.1:9/h", enabled_events=["token.revoked"]
    )
    return (
        "POST",
        f"/api/v1/webhook_endpoints/{endpoint.pk}/roll_secret",
        None,
        lambda: WebhookSecret.objects.filter(endpoint=endpoint).count(),
    )


def _cancel(merchant: Merchant, token: Token) -> Any:
    subscription = subscription_create(
        merchant=merchant,
        token_id=token.id,
        amount=900,
        currency="EUR",
        interval="month",
        start=timezone.now() + timedelta(days=3),
    )
    return (
        "DELETE",
        f"/api/v1/subscriptions/{subscription.pk}",
        None,
        lambda: Subscription.objects.filter(status="canceled").count(),
    )


def _revoke(merchant: Merchant, token: Token) -> Any:
    return (
        "DELETE",
        f"/api/v1/tokens/{token.id}",
        None,
        lambda: Token.objects.filter(status="revoked").count(),
    )


CASES: dict[str, Setup] = {
    "charge": _charge,
    "refund": _refund,
    "subscription": _subscription,
    "subscription_cancel": _cancel,
    "checkout_session": _session,
    "webhook_endpoint": _endpoint,
    "webhook_secret_roll": _roll,
    "token_revoke": _revoke,
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", CASES)
def test_a_request_that_died_after_its_commit_is_answered_with_its_effect(
    case: str, merchant: Merchant, issued_key: IssuedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = TokenFactory.create(merchant=merchant)
    method, url, body, effects = CASES[case](merchant, token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued_key.secret}")
    before = effects()
    bind = idempotency_api._Binder.bind

    def bind_then_die_after_commit(binder: Any, object_id: str) -> None:
        bind(binder, object_id)

        def die() -> None:
            raise Died

        transaction.on_commit(die)

    def send() -> Any:
        return client.generic(
            method,
            url,
            "" if body is None else json.dumps(body),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=f"k-{case}",
        )

    monkeypatch.setattr(idempotency_api._Binder, "bind", bind_then_die_after_commit)
    with pytest.raises(Died):
        send()
    monkeypatch.setattr(idempotency_api._Binder, "bind", bind)
    assert effects() == before + 1
    record = IdempotencyKey.objects.get(key=f"k-{case}")
    assert record.status == "in_progress" and record.effect

    in_use = send()
    _key_lapses(f"k-{case}")
    retry = send()
    again = send()

    assert in_use.status_code == 409
    assert retry.status_code in (200, 201, 202), retry.content
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == record.effect
    assert again.json() == retry.json()
    assert effects() == before + 1


# --- the binding itself --------------------------------------------------------------------------


def _record(merchant: Merchant, key: str = "k") -> IdempotencyKey:
    record = idempotency_begin(merchant=merchant, key=key, fingerprint="f", method="POST", path="/")
    assert isinstance(record, IdempotencyKey)
    return record


@pytest.mark.django_db
def test_a_second_effect_for_one_key_is_refused(merchant: Merchant) -> None:
    record = _record(merchant)
    stale = IdempotencyKey.objects.get(pk=record.pk)  # a taken-over copy, read before the bind
    idempotency_effect_bind(record=record, object_id="ch_first")

    with pytest.raises(EffectAlreadyBound) as refused:
        idempotency_effect_bind(record=stale, object_id="ch_second")

    assert refused.value.object_id == "ch_first"
    assert IdempotencyKey.objects.get(pk=record.pk).effect == "ch_first"


@pytest.mark.django_db
def test_a_request_keeps_its_first_effect_as_its_answer(merchant: Merchant) -> None:
    record = _record(merchant)
    idempotency_effect_bind(record=record, object_id="sub_1")
    idempotency_effect_bind(record=record, object_id="ch_of_its_first_period")

    assert IdempotencyKey.objects.get(pk=record.pk).effect == "sub_1"


@pytest.mark.django_db
def test_a_5xx_after_the_effect_unlocks_the_key_instead_of_releasing_it(merchant: Merchant) -> None:
    bound, unbound = _record(merchant, "bound"), _record(merchant, "unbound")
    idempotency_effect_bind(record=bound, object_id="re_1")

    for record in (bound, unbound):
        idempotency_complete(record=record, status=503, body={}, headers={})

    kept = IdempotencyKey.objects.get(key="bound")
    assert (kept.status, kept.effect, kept.locked_at) == ("in_progress", "re_1", None)
    assert not IdempotencyKey.objects.filter(key="unbound").exists()
    retry = idempotency_begin(
        merchant=merchant, key="bound", fingerprint="f", method="POST", path="/"
    )
    assert isinstance(retry, IdempotencyKey) and retry.effect == "re_1"
