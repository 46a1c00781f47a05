"""Read-only admin for charges, refunds and subscriptions: support staff can look, not act.
Money moves only through the services (API, billing runner), never through a form."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from checkout.models import Charge, Refund, Subscription


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Charge)
class ChargeAdmin(ReadOnlyAdmin):
    list_display = ("id", "merchant", "amount", "currency", "status", "failure_code", "created_at")
    list_filter = ("status", "currency", "failure_code")
    search_fields = ("id", "token__id", "processor_id", "subscription__id")
    date_hierarchy = "created_at"
    list_select_related = ("merchant",)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("id", "charge", "amount", "currency", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("id", "charge__id")


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "merchant",
        "amount",
        "currency",
        "interval",
        "interval_count",
        "status",
        "next_billing_at",
    )
    list_filter = ("status", "interval", "status_reason")
    search_fields = ("id", "token__id")
    list_select_related = ("merchant",)


# --- webhooks (issue 8) ---
import checkout.webhooks.admin  # noqa: E402, F401
