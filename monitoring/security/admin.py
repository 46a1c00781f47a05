from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from monitoring.audit.services import alert_acknowledge
from monitoring.models import AuditEvent, SecurityAlert


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: the trail is evidence, so the admin can filter it but never change it."""

    list_display = (
        "occurred_at",
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
        "occurred_at",
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
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SecurityAlert)
class SecurityAlertAdmin(admin.ModelAdmin[SecurityAlert]):
    """Alerts are raised by the rules only; operators acknowledge them and may add a note."""

    change_list_template = "monitoring/securityalert_change_list.html"
    list_display = (
        "raised_at",
        "rule",
        "scope",
        "source",
        "observed",
        "threshold",
        "severity",
        "cooloff_until",
        "status",
        "acknowledged_by",
    )
    list_filter = ("status", "severity", "rule", "scope", "raised_at")
    search_fields = ("source", "rule")
    date_hierarchy = "raised_at"
    fields = (
        "rule",
        "scope",
        "source",
        "severity",
        "observed",
        "threshold",
        "window_start",
        "raised_at",
        "cooloff_until",
        "detail",
        "status",
        "acknowledged_at",
        "acknowledged_by",
        "note",
    )
    readonly_fields = tuple(f for f in fields if f != "note")
    actions = ["acknowledge"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Acknowledge selected alerts", permissions=["change"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[SecurityAlert]) -> None:
        actor = f"admin:{request.user.get_username()}"
        count = 0
        for alert in queryset.filter(status=SecurityAlert.Status.OPEN):
            alert_acknowledge(alert=alert, actor=actor)
            count += 1
        self.message_user(request, f"Acknowledged {count} alert(s).")
