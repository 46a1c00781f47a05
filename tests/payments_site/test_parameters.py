"""Strict parameters, generated from the OpenAPI schema: every operation it lists, body and
query, so a new endpoint is covered without anyone adding it here."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.apps import apps
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIClient

from payments_site.parameters import _input_serializer, input_validate

UNKNOWN = "not_a_parameter"
# A value of another JSON type than the one declared (a numeric string is not an integer).
WRONG_TYPE: dict[str, Any] = {
    "string": 7,
    "integer": "1",
    "number": "1.5",
    "boolean": "true",
    "object": "x",
    "array": "x",
}
# Query strings are text: what each declared type cannot parse.
WRONG_QUERY: dict[tuple[str, str | None], str] = {
    ("integer", None): "many",
    ("boolean", None): "maybe",
    ("string", "date-time"): "yesterday",
}


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return schema


SCHEMA = _schema()
COMPONENTS = SCHEMA["components"]["schemas"]
OPERATIONS = [
    (method.upper(), path, operation)
    for path, ops in SCHEMA["paths"].items()
    for method, operation in ops.items()
    if method in {"get", "post", "put", "patch", "delete"}
]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = COMPONENTS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return _resolve(schema) if schema else None


def _example(operation: dict[str, Any]) -> dict[str, Any]:
    """The operation's documented request example, or an empty object."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    examples = list(content.get("examples", {}).values())
    return dict(examples[0]["value"]) if examples else {}


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "xx_0000000000000000000000", path)


def _id(op: tuple[str, str, dict[str, Any]]) -> str:
    return str(op[2]["operationId"])


# Writes with a JSON body, or none: a body of another media type (the vault's application/jwt)
# has no members to add to.
WRITES = [
    op
    for op in OPERATIONS
    if op[0] != "GET" and (_body_schema(op[2]) is not None or "requestBody" not in op[2])
]
BODY_FIELDS = [
    (op, name, _resolve(prop))
    for op in OPERATIONS
    if (body := _body_schema(op[2])) is not None
    for name, prop in body.get("properties", {}).items()
    if isinstance(_resolve(prop).get("type"), str)
]
QUERY_PARAMS = [
    (op, param["name"], wrong)
    for op in OPERATIONS
    for param in op[2].get("parameters", [])
    if param["in"] == "query"
    and (wrong := WRONG_QUERY.get((param["schema"].get("type"), param["schema"].get("format"))))
]


def _rows() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def _send(client: APIClient, method: str, url: str, body: Any = None) -> Any:
    if body is None:
        return client.generic(method, url)
    return client.generic(method, url, json.dumps(body), content_type="application/json")


def _assert_refused(response: Any, code: str, field: str) -> None:
    assert response.status_code == 400, response.content
    problem = response.json()
    assert problem["code"] == code
    assert [e["field"] for e in problem["errors"]] == [field]
    assert field in problem["detail"]


def test_the_schema_lists_every_write() -> None:
    """Guards the generation itself: an empty or partial schema would test nothing."""
    ids = {_id(op) for op in OPERATIONS}
    assert {
        "charges_create",
        "charges_refunds_create",
        "subscriptions_cancel",
        "tokens_revoke",
        "webhook_endpoints_roll_secret",
        "checkout_sessions_create",
    } <= ids
    assert len(BODY_FIELDS) >= 20 and len(QUERY_PARAMS) >= 10


@pytest.mark.parametrize("op", OPERATIONS, ids=_id)
def test_unknown_query_parameter_is_refused(
    api_client: APIClient, op: tuple[str, str, dict[str, Any]]
) -> None:
    method, path, operation = op
    body = _example(operation) if _body_schema(operation) else None
    before = _rows()

    response = _send(api_client, method, f"{_url(path)}?{UNKNOWN}=1", body)

    _assert_refused(response, "parameter_unknown", UNKNOWN)
    assert _rows() == before


@pytest.mark.parametrize("op", WRITES, ids=_id)
def test_unknown_body_member_is_refused(
    api_client: APIClient, op: tuple[str, str, dict[str, Any]]
) -> None:
    method, path, operation = op
    before = _rows()

    response = _send(api_client, method, _url(path), {**_example(operation), UNKNOWN: False})

    _assert_refused(response, "parameter_unknown", UNKNOWN)
    assert _rows() == before


@pytest.mark.parametrize(
    ("op", "name", "prop"), BODY_FIELDS, ids=[f"{_id(o)}-{n}" for o, n, _ in BODY_FIELDS]
)
def test_wrongly_typed_body_member_is_refused(
    api_client: APIClient, op: tuple[str, str, dict[str, Any]], name: str, prop: dict[str, Any]
) -> None:
    method, path, operation = op
    before = _rows()

    body = {**_example(operation), name: WRONG_TYPE[prop["type"]]}
    response = _send(api_client, method, _url(path), body)

    _assert_refused(response, "parameter_invalid_type", name)
    assert _rows() == before


@pytest.mark.parametrize(
    ("op", "name", "wrong"), QUERY_PARAMS, ids=[f"{_id(o)}-{n}" for o, n, _ in QUERY_PARAMS]
)
def test_wrongly_typed_query_parameter_is_refused(
    api_client: APIClient, op: tuple[str, str, dict[str, Any]], name: str, wrong: str
) -> None:
    method, path, _ = op
    before = _rows()

    response = _send(api_client, method, f"{_url(path)}?{name}={wrong}")

    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [name]
    assert _rows() == before


# --- the features the API does not have yet fail loudly ---------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/charges", {"capture_method": "manual"}, "capture_method"),
        ("/api/v1/charges", {"customer": "cus_1"}, "customer"),
        ("/api/v1/checkout/sessions", {"line_items": [{"price": "p_1"}]}, "line_items"),
    ],
)
def test_a_feature_we_do_not_have_is_refused_not_ignored(
    api_client: APIClient, url: str, body: dict[str, Any], field: str
) -> None:
    base = {"token": "tok_x", "amount": 100, "currency": "EUR"}
    if "sessions" in url:
        base = {
            "mode": "setup",
            "success_url": "https://a.example/",
            "cancel_url": "https://a.example/",
        }
    before = _rows()

    response = _send(api_client, "POST", url, {**base, **body})

    _assert_refused(response, "parameter_unknown", field)
    assert _rows() == before


def test_nested_members_are_typed_and_named_by_path(api_client: APIClient) -> None:
    body = {"token": "tok_x", "amount": 100, "currency": "EUR", "metadata": {"order": 5}}

    response = _send(api_client, "POST", "/api/v1/charges", body)

    _assert_refused(response, "parameter_invalid_type", "metadata.order")


def test_an_unauthenticated_request_is_401_before_its_parameters_are_read(db: None) -> None:
    response = APIClient().get(f"/api/v1/charges?{UNKNOWN}=1")

    assert response.status_code == 401


class _Sample(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=5)
    count = serializers.IntegerField(min_value=1, required=False, default=3)
    tags = serializers.ListField(child=serializers.CharField(), required=False)


@pytest.mark.parametrize(
    "data",
    [
        {"name": "abc"},
        {"name": "abc", "count": 2, "tags": ["x"]},
        {},
        {"name": "toolong", "count": 0},
        {"name": None},
        {"name": "abc", "tags": "x"},
        ["not", "an", "object"],
        "text",
        None,
    ],
)
def test_input_validate_answers_as_is_valid_does(data: Any) -> None:
    fresh = _Sample(data=data)
    if fresh.is_valid():
        assert input_validate(_Sample, data) == fresh.validated_data
        return
    with pytest.raises(ValidationError) as shared:
        input_validate(_Sample, data)
    assert shared.value.detail == fresh.errors
    assert shared.value.get_codes() == ValidationError(fresh.errors).get_codes()


def test_input_validate_binds_a_serializer_s_fields_once() -> None:
    input_validate(_Sample, {"name": "a"})
    fields = _input_serializer(_Sample).fields
    input_validate(_Sample, {"name": "b"})
    assert _input_serializer(_Sample).fields is fields
    assert input_validate(_Sample, {"name": "c", "count": 9}) == {"name": "c", "count": 9}
