"""API bodies go through the bounded parser: every operation of the OpenAPI schema that takes
a JSON body answers a nested one with 400 ``json_too_deep`` and an oversize one with 413,
never a 500, with or without an Idempotency-Key."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from checkout.payments.models import Charge

pytestmark = pytest.mark.django_db

DEEP = 5000


def _json_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found.append((method.upper(), path.replace("{id}", "x_unknown")))
    return found


OPERATIONS = _json_operations()


def test_the_schema_has_json_bodies_to_check() -> None:
    assert ("POST", "/api/v1/charges") in OPERATIONS
    assert len(OPERATIONS) >= 4


def send(client: APIClient, method: str, path: str, body: str, **headers: Any) -> Any:
    return client.generic(method, path, data=body, content_type="application/json", **headers)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@pytest.mark.parametrize("idempotency_key", [None, "nest-1"])
def test_a_deeply_nested_body_is_refused_as_too_deep(
    api_client: APIClient, method: str, path: str, idempotency_key: str | None
) -> None:
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    body = '{"metadata":' + "[" * DEEP + "]" * DEEP + "}"

    response = send(api_client, method, path, body, **headers)

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "json_too_deep"
    assert Charge.objects.count() == 0


@pytest.mark.parametrize(("method", "path"), OPERATIONS[:1])
def test_an_oversize_body_is_413(api_client: APIClient, method: str, path: str) -> None:
    body = '{"description": "' + "a" * (300 * 1024) + '"}'

    response = send(api_client, method, path, body)

    assert response.status_code == 413, response.content
    assert response.json()["code"] == "request_too_large"


@pytest.mark.parametrize(
    "body",
    ['{"amount": 1, "amount": 2}', '{"amount": NaN}', "{", '{"a": "\\ud800"'],
)
def test_ambiguous_or_broken_json_is_malformed(api_client: APIClient, body: str) -> None:
    response = send(api_client, "POST", "/api/v1/charges", body)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "malformed_request"
