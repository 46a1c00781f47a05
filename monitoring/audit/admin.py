"""The audit trail in the admin: operators filter and read it; nobody changes it."""

from __future__ import annotations

from django.contrib import admin

from monitoring.audit.models import AuditEvent
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
        "prev_hash",
        "hash",
    )
    fields = readonly_fields
    date_hierarchy = "occurred_at"

    @admin.display(description="Occurred", ordering="occurred_at")
    def occurred(self, event: AuditEvent) -> str:
        return seconds(event.occurred_at)
