"""Read-only admin for checkout sessions: what a shopper was asked to pay and what came of it.
A session holds no card data; its page nonce is not shown (it is the browser's, per attempt)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from checkout.billing.admin import every
from checkout.payments.admin import money
from checkout.sessions.models import CheckoutSession
from payments_site.kernel.admin import ReadOnlyAdminMixin, seconds


@admin.register(CheckoutSession)
class CheckoutSessionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    list_display = ("id", "merchant", "mode", "price", "status", "attempts", "created", "expires")
    list_filter = ("status", "mode", "created_at")
    search_fields = ("id", "merchant__id", "merchant__name", "customer_reference")
    date_hierarchy = "created_at"
    list_select_related = ("merchant",)
    fields = (
        "id",
        "merchant",
        "mode",
        "price",
        "description",
        "customer_reference",
        "success_url",
        "cancel_url",
        "status",
        "attempts",
        "last_failure_code",
        "token",
        "charge",
        "subscription",
        "created",
        "expires",
        "completed",
    )
    readonly_fields = fields

    @admin.display(description="Price", ordering="amount")
    def price(self, session: CheckoutSession) -> str:
        if session.mode == CheckoutSession.Mode.SETUP:
            return "- (card saved, nothing charged)"
        amount = money(session.amount, session.currency)
        if session.mode == CheckoutSession.Mode.SUBSCRIPTION:
            return f"{amount} {every(session.interval, session.interval_count)}"
        return amount

    @admin.display(description="Created", ordering="created_at")
    def created(self, session: CheckoutSession) -> str:
        return seconds(session.created_at)

    @admin.display(description="Expires", ordering="expires_at")
    def expires(self, session: CheckoutSession) -> str:
        return seconds(session.expires_at)

    @admin.display(description="Completed", ordering="completed_at")
    def completed(self, session: CheckoutSession) -> str:
        return seconds(session.completed_at)
