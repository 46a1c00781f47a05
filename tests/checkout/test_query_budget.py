"""Queries per API operation, from a budget table over the OpenAPI schema's operation ids: a
hot read (the API key with its merchant, the token's metadata) is one query, never a chain of
lazy loads, and a new query on these paths fails here before it shows in the bench.

Statements are counted on the connection (``CaptureQueriesContext``), real commits
(``transaction=True``) so no test savepoints are counted; transaction control (BEGIN,
SAVEPOINT, COMMIT) is not a query and is left out. The sandbox processor's ledger statements
are the processor's: counted apart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from checkout.payments.services import charge_create
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATION_IDS = {
    operation["operationId"]
    for ops in SCHEMA["paths"].values()
    for method, operation in ops.items()
    if method in {"get", "post", "put", "patch", "delete"}
}
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@dataclass(frozen=True)
class Budget:
    """At most ``queries`` statements of ours, of which at most ``reads`` SELECTs."""

    queries: int
    reads: int


# (method, path, body) for each budgeted operation, made from the test's merchant and token.
Request = Callable[[Merchant, Token], tuple[str, str, dict[str, Any] | None]]


def _charge_create(merchant: Merchant, token: Token) -> Any:
    return "post", "/api/v1/charges", {"token": token.id, "amount": 500, "currency": "EUR"}


def _paid(merchant: Merchant, token: Token) -> str:
    return charge_create(merchant=merchant, token_id=token.id, amount=900, currency="EUR").id


def _charge_get(merchant: Merchant, token: Token) -> Any:
    return "get", f"/api/v1/charges/{_paid(merchant, token)}", None


def _charge_list(merchant: Merchant, token: Token) -> Any:
    for _ in range(3):
        _paid(merchant, token)
    return "get", "/api/v1/charges?limit=10", None


def _refund_create(merchant: Merchant, token: Token) -> Any:
    return "post", f"/api/v1/charges/{_paid(merchant, token)}/refunds", {"amount": 100}


def _token_get(merchant: Merchant, token: Token) -> Any:
    return "get", f"/api/v1/tokens/{token.id}", None


def _subscription_create(merchant: Merchant, token: Token) -> Any:
    body = {"token": token.id, "amount": 900, "currency": "EUR", "interval": "month"}
    return "post", "/api/v1/subscriptions", body


BUDGETS: dict[str, tuple[Request, Budget]] = {
    "charges_create": (_charge_create, Budget(queries=10, reads=3)),
    "charges_retrieve": (_charge_get, Budget(queries=2, reads=2)),
    "charges_list": (_charge_list, Budget(queries=2, reads=2)),
    "charges_refunds_create": (_refund_create, Budget(queries=14, reads=7)),
    "tokens_retrieve": (_token_get, Budget(queries=2, reads=2)),
    "subscriptions_create": (_subscription_create, Budget(queries=25, reads=12)),
}


def test_every_budget_names_an_operation_of_the_schema() -> None:
    assert set(BUDGETS) <= OPERATION_IDS


@pytest.mark.parametrize("operation_id", sorted(BUDGETS))
def test_operation_stays_within_its_query_budget(
    operation_id: str, api_client: APIClient, merchant: Merchant, token: Token
) -> None:
    make, budget = BUDGETS[operation_id]
    # A first request of the key: its once-a-minute ``last_used_at`` is not the operation's.
    api_client.get("/api/v1/merchant")
    method, path, body = make(merchant, token)
    with (
        override_settings(AUDIT_SEAL_INTERVAL_SECONDS=60),  # the inline sealer batches
        CaptureQueriesContext(connection) as captured,
    ):
        kwargs: dict[str, Any] = {"format": "json", "HTTP_IDEMPOTENCY_KEY": f"k-{operation_id}"}
        response = getattr(api_client, method)(path, body, **kwargs)
    assert response.status_code in (200, 201), response.content
    ours = [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].lstrip().upper().startswith(_CONTROL)
        and "sandboxledgerentry" not in q["sql"]
    ]
    reads = [sql for sql in ours if sql.lstrip().upper().startswith("SELECT")]
    listing = "\n".join(ours)
    assert len(ours) <= budget.queries, listing
    assert len(reads) <= budget.reads, listing
    # The hot reads: the key with its merchant in one query, the merchant never loaded again.
    assert sum('FROM "vault_apikey"' in sql for sql in reads) == 1, listing
    assert not any(sql.startswith('SELECT "vault_merchant"') for sql in reads), listing
