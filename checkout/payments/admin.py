"""Read-only admin for charges and refunds: support staff can look, not act. Money moves only
through the services (API, billing runner), never through a form."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from checkout.payments.models import Charge, Refund
from payments_site.kernel.admin import ReadOnlyAdminMixin


@admin.register(Charge)
class ChargeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    list_display = ("id", "merchant", "amount", "currency", "status", "failure_code", "created_at")
    list_filter = ("status", "currency", "failure_code")
    search_fields = ("id", "token__id", "processor_id", "subscription__id")
    date_hierarchy = "created_at"
    list_select_related = ("merchant",)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    list_display = ("id", "charge", "amount", "currency", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("id", "charge__id")
