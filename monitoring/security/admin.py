from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from monitoring.security.models import SecurityAlert
from monitoring.security.services import alert_acknowledge


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
