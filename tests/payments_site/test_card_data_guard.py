"""No free text takes a card number. The fields are found, not listed: every CharField,
URLField and JSONField of every API input serializer (cross-checked against the OpenAPI
schema's operations) and of every admin form. A card number in any of them, however written,
is 400 ``card_data_not_allowed`` naming the field, and nothing is stored or audited."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from typing import Any

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.test import APIClient

from monitoring.audit.models import AuditEvent
from tests.factories import TokenFactory
from tests.support.leaks import assert_no_card_number
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db

FREE_TEXT = (serializers.CharField, serializers.JSONField, serializers.DictField)
NOT_TEXT = ("integer", "boolean", "array", "number")
WRITTEN = {
    "dots": "4242.4242.4242.4242",
    "full width": "４２４２ ４２４２ ４２４２ ４２４２",
    "en dashes": "4000\u20130566\u20135566\u20135556",
}


def _views() -> list[Any]:
    found: list[Any] = []

    def walk(patterns: list[URLPattern | URLResolver]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif getattr(pattern.callback, "cls", None) is not None:
                found.append(getattr(pattern.callback, "cls"))  # noqa: B009

    walk(get_resolver().url_patterns)
    return found


def serializer_free_text_fields() -> set[str]:
    """Every free-text field of every input serializer nested in an API view."""
    names: set[str] = set()
    for view in _views():
        for attribute in vars(view).values():
            if not (inspect.isclass(attribute) and issubclass(attribute, serializers.Serializer)):
                continue
            if "Output" in attribute.__name__:
                continue
            for name, field in attribute().fields.items():
                if isinstance(field, FREE_TEXT) and not field.read_only:
                    names.add(name)
    return names


def _operations() -> list[tuple[str, str, str, str]]:
    """(method, path, where, field) for each free-text input of each operation."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})
    cases = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            concrete = re.sub(r"\{[^}]+\}", "x_unknown", path)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["schema"].get("type") == "string":
                    cases.append((method.upper(), concrete, "query", parameter["name"]))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not body:
                continue
            ref = body["schema"].get("$ref", "")
            properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
            for name, spec in properties.items():
                # Free text: strings, objects, and enums given by reference (not numbers).
                if spec.get("readOnly") or spec.get("type") in NOT_TEXT:
                    continue
                cases.append((method.upper(), concrete, "body", name))
    return cases


OPERATIONS = _operations()


def test_every_free_text_serializer_field_is_an_operation_input_tested_here() -> None:
    fields = serializer_free_text_fields()
    assert {"description", "metadata", "success_url", "cancel_url", "url", "reason"} <= fields
    assert fields <= {field for _, _, _, field in OPERATIONS}


def _value(field: str, written: str) -> Any:
    if field == "metadata":
        return {"note": f"card {written}"}
    if field.endswith("url"):
        return f"https://shop.example.com/done?card={written}"
    return f"card {written}"


@pytest.mark.parametrize("written", WRITTEN.values(), ids=list(WRITTEN))
@pytest.mark.parametrize(("method", "path", "where", "field"), OPERATIONS)
def test_a_card_number_in_any_api_free_text_is_refused_naming_the_field(
    api_client: APIClient, method: str, path: str, where: str, field: str, written: str
) -> None:
    value = _value(field, written)
    if where == "query":
        response = api_client.generic(method, f"{path}?{field}={value}")
    else:
        response = api_client.generic(
            method, path, data=_json({field: value}), content_type="application/json"
        )

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "card_data_not_allowed"
    assert body["errors"] == [
        {"field": field, "code": "card_data_not_allowed", "message": body["errors"][0]["message"]}
    ]
    assert written not in response.content.decode()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_a_revoke_reason_with_a_card_number_revokes_nothing_and_records_nothing(
    api_client: APIClient, merchant: Merchant
) -> None:
    token = TokenFactory.create(merchant=merchant)

    response = api_client.delete(f"/api/v1/tokens/{token.id}?reason=4242 4242 4242 4242")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "reason"
    token.refresh_from_db()
    assert token.status == Token.Status.ACTIVE
    assert not AuditEvent.objects.filter(action__startswith="token.").exists()


def admin_form_free_text_fields() -> set[str]:
    """Every CharField of every form the admin site's modules define or register."""
    names: set[str] = set()
    modules = {type(model_admin).__module__ for model_admin in admin.site._registry.values()}
    for module_name in modules:
        module = importlib.import_module(module_name)
        for attribute in vars(module).values():
            if inspect.isclass(attribute) and issubclass(attribute, forms.Form):
                declared: dict[str, forms.Field] = attribute.base_fields
                for name, field in declared.items():
                    if isinstance(field, forms.CharField):
                        names.add(name)
    for model in admin.site._registry:
        for model_field in model._meta.get_fields():
            if model_field.get_internal_type() in ("CharField", "TextField", "JSONField"):
                names.add(model_field.name)
    return names - {"password", "otp_token"}


def test_the_admin_forms_have_free_text_to_check() -> None:
    assert {"reason", "note"} <= admin_form_free_text_fields()


@pytest.mark.parametrize("field", sorted(admin_form_free_text_fields()))
def test_a_card_number_in_any_admin_form_field_is_refused(
    admin_client: Client, merchant: Merchant, field: str
) -> None:
    token = TokenFactory.create(merchant=merchant)

    response = admin_client.post(
        reverse("admin:vault_token_revoke", args=[quote(token.pk)]),
        {field: "card 4242 4242 4242 4242"},
    )

    assert response.status_code == 400
    assert field in response.content.decode()
    assert_no_card_number(response.content.decode())
    token.refresh_from_db()
    assert token.status == Token.Status.ACTIVE
