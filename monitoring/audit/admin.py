"""The audit trail in the admin: operators filter and read it; nobody changes it."""

from __future__ import annotations

from django.contrib import admin

from monitoring.audit.models import AuditEvent, AuditSeal
from payments_site.kernel.admin import ReadOnlyAdminMixin, seconds


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[AuditEvent]):
    """Read-only: the trail is evidence, so the admin can filter it but never change it. Times
    show to the second, as they are compared with logs."""

    list_display = (
        "occurred",
        "actor",
        "action",
        "object_type",
        "object_id",
        "outcome",
        "reason",
    )
    list_filter = ("outcome", "action", "object_type", "occurred_at")
    search_fields = ("object_id", "actor", "request_id", "source_ip")
    readonly_fields = (
        "occurred",
        "actor",
        "action",
        "object_type",
        "object_id",
        "outcome",
        "reason",
        "source_ip",
        "request_id",
        "data",
        "digest",
    )
    fields = readonly_fields
    date_hierarchy = "occurred_at"

    @admin.display(description="Occurred", ordering="occurred_at")
    def occurred(self, event: AuditEvent) -> str:
        return seconds(event.occurred_at)


@admin.register(AuditSeal)
class AuditSealAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[AuditSeal]):
    """Read-only: the seals that link the events, and which of them carry a signature."""

    list_display = ("number", "sealed", "low_id", "high_id", "key_id")
    list_filter = ("sealed_at",)
    readonly_fields = (
        "number",
        "sealed",
        "low_id",
        "high_id",
        "events",
        "prev_hash",
        "hash",
        "key_id",
        "signature",
    )
    fields = readonly_fields
    date_hierarchy = "sealed_at"

    @admin.display(description="Sealed", ordering="sealed_at")
    def sealed(self, seal: AuditSeal) -> str:
        return seconds(seal.sealed_at)
