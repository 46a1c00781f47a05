"""Read-only admin for customers: support staff can look; customers change only through the
API. The email is personal data: the list shows it masked."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from checkout.customers.models import Customer, CustomerCard
from payments_site.kernel.admin import ReadOnlyAdminMixin, seconds


def email_masked(email: str) -> str:
    """ "ada.lovelace@example.com" → "a***@example.com": enough to tell customers apart."""
    if not email:
        return "-"
    local, _, domain = email.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


class CustomerCardInline(ReadOnlyAdminMixin, admin.TabularInline[Any, Any]):
    model = CustomerCard
    fields = ("token", "fingerprint", "is_default", "attached_at", "detached_at")
    readonly_fields = fields
    extra = 0


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    list_display = ("id", "merchant", "livemode", "email_shown", "created", "deleted_shown")
    list_filter = ("livemode",)
    search_fields = ("id",)
    list_select_related = ("merchant",)
    fields = (
        "id",
        "merchant",
        "livemode",
        "name",
        "email",
        "description",
        "metadata",
        "created_at",
        "deleted_at",
    )
    readonly_fields = fields
    inlines = [CustomerCardInline]

    @admin.display(description="Email")
    def email_shown(self, customer: Customer) -> str:
        return email_masked(customer.email)

    @admin.display(description="Created", ordering="created_at")
    def created(self, customer: Customer) -> str:
        return seconds(customer.created_at)

    @admin.display(description="Deleted", boolean=True)
    def deleted_shown(self, customer: Customer) -> bool:
        return customer.deleted
