"""Read-only admin for charges and refunds: support staff can look, not act. Money moves only
through the services (API, billing runner), never through a form. Amounts show as money
("€49.00"), not minor units."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from checkout.currencies import amount_format
from checkout.payments.models import Charge, Refund
from checkout.payments.processors.models import AdyenNotification
from payments_site.kernel.admin import ReadOnlyAdminMixin, seconds


def money(amount: int | None, currency: str) -> str:
    """A minor-unit amount as the admin shows it: "€49.00", "¥500"; "-" when there is none."""
    if amount is None or not currency:
        return "-"
    return amount_format(amount=amount, currency=currency)


@admin.register(Charge)
class ChargeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    list_display = (
        "id",
        "merchant",
        "livemode",
        "amount_shown",
        "status",
        "failure_code",
        "created",
    )
    list_filter = ("livemode", "status", "currency", "failure_code", "resend_stopped")
    search_fields = ("id", "token__id", "processor_id", "subscription__id")
    date_hierarchy = "created_at"
    list_select_related = ("merchant",)
    fields = (
        "id",
        "merchant",
        "livemode",
        "token",
        "amount_shown",
        "refunded_shown",
        "description",
        "metadata",
        "status",
        "failure_code",
        "failure_message",
        "processor",
        "processor_id",
        "step_processor_id",
        "resend_stopped",
        "subscription",
        "period",
        "attempt",
        "created",
        "settled",
    )
    readonly_fields = fields

    @admin.display(description="Amount", ordering="amount")
    def amount_shown(self, charge: Charge) -> str:
        return money(charge.amount, charge.currency)

    @admin.display(description="Refunded")
    def refunded_shown(self, charge: Charge) -> str:
        return money(charge.amount_refunded, charge.currency)

    @admin.display(description="Created", ordering="created_at")
    def created(self, charge: Charge) -> str:
        return seconds(charge.created_at)

    @admin.display(description="Settled", ordering="settled_at")
    def settled(self, charge: Charge) -> str:
        return seconds(charge.settled_at)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    list_display = ("id", "livemode", "charge", "amount_shown", "status", "created")
    list_filter = ("livemode", "status", "resend_stopped")
    search_fields = ("id", "charge__id")
    fields = (
        "id",
        "merchant",
        "livemode",
        "charge",
        "amount_shown",
        "reason",
        "status",
        "failure_code",
        "processor_id",
        "resend_stopped",
        "created",
        "settled",
    )
    readonly_fields = fields

    @admin.display(description="Amount", ordering="amount")
    def amount_shown(self, refund: Refund) -> str:
        return money(refund.amount, refund.currency)

    @admin.display(description="Created", ordering="created_at")
    def created(self, refund: Refund) -> str:
        return seconds(refund.created_at)

    @admin.display(description="Settled", ordering="settled_at")
    def settled(self, refund: Refund) -> str:
        return seconds(refund.settled_at)


@admin.register(AdyenNotification)
class AdyenNotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    """What Adyen told us and what it did here (``outcome``): where an operator follows an
    overdue or conflicting notification alert."""

    list_display = (
        "event_code",
        "success",
        "psp_reference",
        "charge_id",
        "refund_id",
        "outcome",
        "live",
        "received_at",
    )
    list_filter = ("event_code", "success", "outcome", "live")
    search_fields = ("psp_reference", "original_reference", "merchant_reference", "charge_id")
    fields = (
        "event_code",
        "success",
        "reason",
        "psp_reference",
        "original_reference",
        "merchant_reference",
        "merchant_account",
        "amount_value",
        "amount_currency",
        "event_date",
        "charge_id",
        "refund_id",
        "outcome",
        "live",
        "received_at",
    )
    readonly_fields = fields
