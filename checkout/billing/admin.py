"""Read-only admin for subscriptions: support staff can look; schedules change only through
the API and the billing runner."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from checkout.billing.models import Subscription
from payments_site.kernel.admin import ReadOnlyAdminMixin


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
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
