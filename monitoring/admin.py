from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent


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
