"""Admin for webhooks: read-only events, endpoints and deliveries with every attempt, and a
"resend" action. Signing secrets have no admin and no field here: not even their ciphertext
is shown."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from checkout.webhooks.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from payments_site.kernel.admin import ReadOnlyAdminMixin
from payments_site.kernel.jsontext import json_parse

from .delivery import DeliveryNotResendable, delivery_resend


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    list_display = ("id", "merchant", "livemode", "type", "object_id", "created_at")
    list_filter = ("livemode", "type", "created_at")
    search_fields = ("id", "object_id")
    date_hierarchy = "created_at"
    list_select_related = ("merchant",)
    fields = (
        "id",
        "merchant",
        "livemode",
        "type",
        "api_version",
        "object_type",
        "object_id",
        "created_at",
        "document",
    )
    readonly_fields = fields

    @admin.display(description="payload (as sent)")
    def document(self, event: Event) -> str:
        pretty = json.dumps(json_parse(event.payload), indent=2, ensure_ascii=False)
        return format_html("<pre>{}</pre>", pretty)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    list_display = (
        "id",
        "merchant",
        "livemode",
        "url",
        "status",
        "disabled_reason",
        "last_success_at",
        "created_at",
        "deleted_at",
    )
    list_filter = ("livemode", "status", "disabled_reason")
    search_fields = ("id", "url", "merchant__id")
    list_select_related = ("merchant",)
    # Every field is listed explicitly: the signing secrets live in another table, unshown.
    fields = (
        "id",
        "merchant",
        "livemode",
        "url",
        "description",
        "enabled_events",
        "status",
        "disabled_reason",
        "disabled_at",
        "last_success_at",
        "created_at",
        "deleted_at",
    )
    readonly_fields = fields


class WebhookAttemptInline(
    ReadOnlyAdminMixin, admin.TabularInline[WebhookAttempt, WebhookDelivery]
):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = (
        "sequence",
        "started_at",
        "status_code",
        "latency_ms",
        "error",
        "error_detail",
        "remote_address",
        "response_excerpt",
    )
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    list_display = (
        "id",
        "livemode",
        "event",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("livemode", "status", "last_error", "event__type")
    search_fields = ("event__id", "endpoint__id", "endpoint__merchant__id")
    list_select_related = ("event", "endpoint")
    fields = (
        "livemode",
        "event",
        "endpoint",
        "status",
        "attempts",
        "window_started_at",
        "last_attempt_at",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
    )
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["resend"]

    @admin.display(description="type")
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.event.type

    def has_resend_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(user.has_perm("checkout.change_webhookdelivery"))

    @admin.action(description="Resend selected deliveries now", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        actor = f"admin:{request.user.get_username()}"
        sent, refused = 0, 0
        for delivery in queryset:
            try:
                delivery_resend(delivery=delivery, actor=actor)
                sent += 1
            except DeliveryNotResendable:
                refused += 1
        self.message_user(request, f"Queued {sent} delivery(ies) to be sent again.")
        if refused:
            self.message_user(
                request,
                f"{refused} delivery(ies) go to a disabled or deleted endpoint and were not "
                "resent; enable the endpoint first.",
                level=messages.WARNING,
            )
