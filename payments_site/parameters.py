"""Strict parameters: every API operation accepts exactly what its OpenAPI schema declares.

A feature we do not have must fail loudly, never be silently ignored (``capture: false`` on a
charge would otherwise be captured). So the published schema is also the gate: a query
parameter or body member it does not declare is refused with 400 ``parameter_unknown``, and a
value of the wrong JSON type (a string where an integer is declared, an integer where a string
is, a string for an object) with 400 ``parameter_invalid_type``; both name the field, with a
dotted path inside objects (``metadata.order_id``). Values are then validated by each view's
serializer as before (ranges, patterns, choices).

It runs as a DRF permission after authentication (so an unauthenticated request is still a
401) and before any view code, for every DRF view without anyone having to opt in; an
operation the schema does not describe (the schema and docs views) is not checked. The
schema is generated once per process, on the first request, by the configured generator
(DRF imports this module while it loads its views, so it names no view module itself). This
module imports no app.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drf_spectacular.settings import spectacular_settings
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission

from payments_site.kernel.errors import DomainError, FieldError

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
ARTICLES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "object": "an object",
    "array": "an array",
}
BODY = "body"


class ParameterUnknown(DomainError):
    code = "parameter_unknown"


class ParameterInvalidType(DomainError):
    code = "parameter_invalid_type"


@dataclass(frozen=True)
class Operation:
    """What one operation accepts: its query parameters and its JSON body's schema."""

    query: frozenset[str]
    body: Mapping[str, Any] | None
    components: Mapping[str, Any] = field(repr=False)


@functools.cache
def operations() -> dict[tuple[Any, str], Operation]:
    """(view class or function, HTTP method) → its operation, from the generated schema."""
    generator = spectacular_settings.DEFAULT_GENERATOR_CLASS()
    schema = generator.get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})
    found: dict[tuple[Any, str], Operation] = {}
    for path, _regex, method, callback in generator.endpoints or []:
        operation = schema.get("paths", {}).get(path, {}).get(method.lower())
        if operation is None:
            continue
        query = frozenset(
            p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"
        )
        content = operation.get("requestBody", {}).get("content", {})
        body = content.get("application/json", {}).get("schema")
        found[(getattr(callback, "cls", callback), method.upper())] = Operation(
            query=query, body=body, components=components
        )
    return found


def operation_for(view: Any, method: str) -> Operation | None:
    return operations().get((view, method.upper()))


def parameters_check(*, operation: Operation, query: Mapping[str, Any], body: Any) -> None:
    """Raise ``ParameterUnknown`` / ``ParameterInvalidType`` naming every field at fault."""
    unknown = [
        FieldError(name, "parameter_unknown", _unknown_message(name))
        for name in query
        if name not in operation.query
    ]
    mistyped: list[FieldError] = []
    if operation.body is None:
        if isinstance(body, Mapping):
            unknown += [
                FieldError(str(k), "parameter_unknown", _unknown_message(str(k))) for k in body
            ]
        elif body not in (None, b"", ""):
            mistyped.append(FieldError(BODY, "parameter_invalid_type", "Send no body."))
    else:
        _walk(body, operation.body, "", operation.components, unknown, mistyped)
    if unknown:
        names = ", ".join(e.field for e in unknown)
        raise ParameterUnknown(
            f"Received unknown parameter: {names}. This operation does not take it; see the "
            "API reference (/api/docs/).",
            errors=unknown,
        )
    if mistyped:
        raise ParameterInvalidType(
            f"Wrong type for: {', '.join(e.field for e in mistyped)}.", errors=mistyped
        )


def _unknown_message(name: str) -> str:
    return f"Unknown parameter: {name}."


def _resolve(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _type_ok(value: Any, expected: str) -> bool:
    if isinstance(value, bool) and expected != "boolean":
        return False  # True is an int to Python, not to JSON
    return isinstance(value, JSON_TYPES.get(expected, (object,)))


def _walk(
    value: Any,
    schema: Mapping[str, Any],
    path: str,
    components: Mapping[str, Any],
    unknown: list[FieldError],
    mistyped: list[FieldError],
) -> None:
    schema = _resolve(schema, components)
    name = path or BODY
    if value is None:
        if not schema.get("nullable") and "type" in schema:
            mistyped.append(FieldError(name, "parameter_invalid_type", "Must not be null."))
        return
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches:
        trials = []
        for branch in branches:
            found_unknown: list[FieldError] = []
            found_mistyped: list[FieldError] = []
            _walk(value, branch, path, components, found_unknown, found_mistyped)
            if not found_unknown and not found_mistyped:
                return
            trials.append((found_unknown, found_mistyped))
        unknown += trials[0][0]
        mistyped += trials[0][1]
        return
    for part in schema.get("allOf", []):
        _walk(value, part, path, components, unknown, mistyped)
    expected = schema.get("type")
    if isinstance(expected, str) and not _type_ok(value, expected):
        mistyped.append(
            FieldError(
                name, "parameter_invalid_type", f"Must be {ARTICLES.get(expected, expected)}."
            )
        )
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if properties is not None and key in properties:
                _walk(item, properties[key], child, components, unknown, mistyped)
            elif isinstance(extra, Mapping):
                _walk(item, extra, child, components, unknown, mistyped)
            elif extra is True or (properties is None and extra is None):
                continue  # a free-form object
            else:
                unknown.append(FieldError(child, "parameter_unknown", _unknown_message(child)))
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            _walk(item, schema["items"], f"{path}[{index}]", components, unknown, mistyped)


class DeclaredParametersOnly(BasePermission):
    """``DEFAULT_PERMISSION_CLASSES``: refuse what the operation's schema does not declare."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        operation = operation_for(type(view), request.method or "GET")
        if operation is None:
            return True
        # Read the raw body first: Django then keeps it, so the idempotency layer can still
        # fingerprint it after DRF has parsed it here.
        raw = request._request.body
        body = request.data if raw else None
        parameters_check(operation=operation, query=request.query_params, body=body)
        return True


@functools.cache
def _input_serializer(serializer_class: type[serializers.Serializer[Any]]) -> Any:
    return serializer_class()


def input_validate(serializer_class: type[serializers.Serializer[Any]], data: Any) -> Any:
    """``data`` as ``serializer_class`` validates it. One instance per class, its fields bound
    once: binding a serializer's fields anew for every request cost more than validating with
    them, so an input serializer keeps no per-request state (no context, no ``validate``
    reading ``self.initial_data``). Refused data is checked again the usual way, so the
    ``ValidationError`` is exactly the one ``is_valid(raise_exception=True)`` raises."""
    try:
        return _input_serializer(serializer_class).run_validation(data)
    except ValidationError:
        serializer_class(data=data).is_valid(raise_exception=True)
        raise
