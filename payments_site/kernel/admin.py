"""The read-only admin: operators look, they never add, change or delete.

For records that are evidence (the audit trail, events, deliveries) or that only the services
may change (money moves through the API and the billing runner, never through a form).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Mix into a ``ModelAdmin`` or an inline, before it: ``class X(ReadOnlyAdminMixin,
    admin.ModelAdmin[M])``."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
