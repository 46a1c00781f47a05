"""One timestamp scheme on every object, as Stripe names them, checked over the whole OpenAPI
schema and over real answers of every list.

- when an object was made is ``created`` (never ``created_at``), and every object has it;
- any other instant is ``<what happened>_at`` (``expires_at``, ``canceled_at``…), but for the
  subscription period fields Stripe names otherwise: ``billing_cycle_anchor``,
  ``current_period_start``, ``current_period_end``;
- every instant is an ISO 8601 date-time in UTC, written with ``Z``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.checkout.api.test_lists import LIST_PATHS, MAKERS, _shop
from vault.models import Merchant

pytestmark = pytest.mark.django_db

STRIPE_PERIOD_NAMES = {"billing_cycle_anchor", "current_period_start", "current_period_end"}
UTC_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
# Request bodies may take an instant under its own name (a subscription's ``start``).
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
COMPONENTS: dict[str, Any] = SCHEMA["components"]["schemas"]
OUTPUTS = {
    name: component
    for name, component in COMPONENTS.items()
    if not name.endswith("Request") and "properties" in component
}


def _instants(component: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(path, name)`` of every date-time property, nested objects included."""
    for name, prop in component.get("properties", {}).items():
        target = COMPONENTS.get(prop.get("$ref", "").rsplit("/", 1)[-1], prop)
        if target.get("format") == "date-time" or prop.get("format") == "date-time":
            yield f"{prefix}{name}", name
        yield from _instants(target, f"{prefix}{name}.")


def _is_object(component: dict[str, Any]) -> bool:
    return {"id", "object"} <= set(component.get("properties", {}))


def test_the_schema_has_objects_with_instants() -> None:
    assert sum(_is_object(c) for c in OUTPUTS.values()) >= 8
    assert sum(len(list(_instants(c))) for c in OUTPUTS.values()) >= 15


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_every_instant_is_named_by_the_scheme(name: str) -> None:
    component = OUTPUTS[name]
    names = {field for _, field in _instants(component)}

    assert "created_at" not in component["properties"]
    if _is_object(component):
        assert "created" in names, name
    for path, field in _instants(component):
        assert field == "created" or field.endswith("_at") or field in STRIPE_PERIOD_NAMES, path


def _values(item: Any, paths: set[str], prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(item, dict):
        for key, value in item.items():
            if f"{prefix}{key}" in paths:
                yield f"{prefix}{key}", value
            yield from _values(value, paths, f"{prefix}{key}.")


@pytest.mark.parametrize("path", LIST_PATHS)
def test_every_listed_instant_is_utc_iso_8601(
    path: str, merchant: Merchant, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    make, _ = MAKERS[path]
    shop = _shop(merchant, django_capture_on_commit_callbacks, live=False)
    make(shop)
    page = SCHEMA["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    page_ref = page["schema"]["$ref"].rsplit("/", 1)[-1]
    item_ref = COMPONENTS[page_ref]["properties"]["data"]["items"]["$ref"].rsplit("/", 1)[-1]
    paths = {p for p, _ in _instants(COMPONENTS[item_ref])}

    items = shop.client.get(path).json()["data"]
    seen = [(p, v) for item in items for p, v in _values(item, paths)]

    assert items and "created" in {p for p, _ in seen}
    for where, value in seen:
        assert value is None or UTC_INSTANT.fullmatch(value), (where, value)
