"""Admin for the relay: operators register destinations (behind the admin's second factor,
like every admin page); forwards are read-only evidence. A destination is never deleted
(forwards point at it): an operator deactivates it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from monitoring.audit.services import audit_record
from payments_site.kernel.admin import ReadOnlyAdminMixin

from .errors import DestinationInvalid
from .models import CardField, Forward, ForwardDestination
from .services import destination_audit_data, destination_clean


class ForwardDestinationForm(forms.ModelForm[ForwardDestination]):
    allowed_fields = forms.MultipleChoiceField(
        choices=CardField.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Only these card fields may be filled into a forward's body.",
    )

    class Meta:
        model = ForwardDestination
        fields = (
            "merchant",
            "livemode",
            "name",
            "host",
            "port",
            "path_prefix",
            "method",
            "allowed_fields",
            "is_active",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            host, prefix, fields = destination_clean(
                host=str(data.get("host", "")),
                port=int(data.get("port") or 443),
                path_prefix=str(data.get("path_prefix") or "/"),
                allowed_fields=list(data.get("allowed_fields") or []),
            )
        except DestinationInvalid as exc:
            raise forms.ValidationError(exc.message) from exc
        data.update(host=host, path_prefix=prefix, allowed_fields=fields)
        return data


@admin.register(ForwardDestination)
class ForwardDestinationAdmin(admin.ModelAdmin[ForwardDestination]):
    form = ForwardDestinationForm
    list_display = ("id", "name", "merchant", "livemode", "method", "host", "port", "path_prefix")
    list_filter = ("livemode", "is_active", "method")
    search_fields = ("id", "host", "name", "merchant__id")
    list_select_related = ("merchant",)
    readonly_fields = ("id", "created_at", "created_by")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The mode and merchant of a destination never change: forwards were made under them.
        if obj is not None:
            return (*self.readonly_fields, "merchant", "livemode")
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: ForwardDestination, form: Any, change: bool
    ) -> None:
        actor = f"admin:{request.user.get_username()}"
        if not change:
            obj.created_by = actor
        super().save_model(request, obj, form, change)
        audit_record(
            action="forward_destination.change" if change else "forward_destination.register",
            actor=actor,
            object_type="forward_destination",
            object_id=obj.id,
            data=destination_audit_data(obj),
        )


@admin.register(Forward)
class ForwardAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Forward]):
    list_display = (
        "id",
        "merchant",
        "livemode",
        "destination",
        "token",
        "status",
        "failure_code",
        "response_status",
        "created_at",
    )
    list_filter = ("livemode", "status", "failure_code")
    search_fields = ("id", "token__id", "destination__id")
    list_select_related = ("merchant", "destination")
    fields = (
        "id",
        "merchant",
        "livemode",
        "destination",
        "token",
        "method",
        "path",
        "purpose",
        "metadata",
        "status",
        "failure_code",
        "response_status",
        "response_content_type",
        "response_body",
        "response_truncated",
        "latency_ms",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields
