"""Read-only admin for subscriptions: support staff can look; schedules change only through
the API and the billing runner."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from checkout.billing.models import Subscription
from checkout.payments.admin import money
from payments_site.kernel.admin import ReadOnlyAdminMixin, seconds


def every(interval: str, count: int | None) -> str:
    """ "month", 1 → "per month"; "week", 2 → "every 2 weeks"."""
    if not interval:
        return "-"
    if not count or count == 1:
        return f"per {interval}"
    return f"every {count} {interval}s"


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    list_display = ("id", "merchant", "livemode", "price", "status", "next_billing")
    list_filter = ("livemode", "status", "interval", "status_reason")
    search_fields = ("id", "token__id", "customer__id")
    list_select_related = ("merchant",)

    @admin.display(description="Price", ordering="amount")
    def price(self, subscription: Subscription) -> str:
        amount = money(subscription.amount, subscription.currency)
        return f"{amount} {every(subscription.interval, subscription.interval_count)}"

    @admin.display(description="Next billing", ordering="next_billing_at")
    def next_billing(self, subscription: Subscription) -> str:
        return seconds(subscription.next_billing_at)
