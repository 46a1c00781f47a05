"""Security alerts in the admin: raised by the rules only; operators read them, follow the
links to what they name, and acknowledge them (with a note, audited)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from monitoring.security.models import SecurityAlert
from monitoring.security.services import alert_acknowledge
from payments_site.kernel.admin import ObjectActionsMixin, seconds

NOTE_MAX_LENGTH = 500

# Where the admin shows what a source names, by scope: a model's page (by id) or a list
# searched for it. Named by URL, so monitoring needs no import of the apps that own them.
_SOURCE_PAGES: dict[str, tuple[str, str]] = {
    SecurityAlert.Scope.SESSION: ("admin:checkout_checkoutsession_change", "object"),
    SecurityAlert.Scope.MERCHANT: ("admin:vault_merchant_change", "object"),
    SecurityAlert.Scope.FINGERPRINT: ("admin:vault_token_changelist", "search"),
    SecurityAlert.Scope.IP: ("admin:monitoring_auditevent_changelist", "search"),
    SecurityAlert.Scope.CLIENT: ("admin:monitoring_securityalert_changelist", "search"),
}

_DETAIL_LABELS = {
    "window_seconds": "Window",
    "measure": "Measure",
    "related": "Seen with",
}


def source_link(scope: str, value: str) -> SafeString | str:
    """The admin page for what ``value`` names (a session, a merchant…), or plain text."""
    page = _SOURCE_PAGES.get(scope)
    if page is None or not value:
        return value
    name, kind = page
    try:
        if kind == "object":
            url = reverse(name, args=[value])
        else:
            url = reverse(name) + "?" + urlencode({"q": value})
    except NoReverseMatch:
        return value
    return format_html('<a href="{}">{}</a>', url, value)


def _scope_label(scope: str) -> str:
    try:
        return str(SecurityAlert.Scope(scope).label)
    except ValueError:
        return scope


def detail_render(detail: dict[str, Any]) -> SafeString:
    """An alert's detail as a definition list, with the sources it names linked."""
    rows: list[tuple[str, Any]] = []
    for key, value in detail.items():
        label = _DETAIL_LABELS.get(key, key.replace("_", " ").capitalize())
        if key == "related" and isinstance(value, dict):
            shown: Any = (
                format_html_join(
                    ", ",
                    "{}: {}",
                    ((_scope_label(s), source_link(s, str(v))) for s, v in sorted(value.items())),
                )
                or "-"
            )
        elif key == "window_seconds" and isinstance(value, int):
            shown = f"{value // 60} min" if value % 60 == 0 else f"{value} s"
        else:
            shown = str(value)
        rows.append((label, shown))
    if not rows:
        return format_html("{}", "-")
    return format_html(
        '<dl class="alert-detail">{}</dl>', format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows)
    )


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        help_text="What you found or did; kept on the alert and in the audit trail.",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "autofocus": True}),
    )


@admin.register(SecurityAlert)
class SecurityAlertAdmin(ObjectActionsMixin, admin.ModelAdmin[SecurityAlert]):
    """A view page per alert; acknowledging is an action with its own form."""

    change_list_template = "monitoring/securityalert_change_list.html"
    list_display = (
        "raised",
        "rule",
        "scope",
        "source",
        "observed",
        "threshold",
        "severity",
        "status",
        "acknowledged_by",
    )
    list_filter = ("status", "severity", "rule", "scope", "raised_at")
    search_fields = ("source", "rule")
    date_hierarchy = "raised_at"
    fields = (
        "rule",
        "scope",
        "source_linked",
        "severity",
        "observed",
        "threshold",
        "window",
        "raised",
        "cooloff",
        "details",
        "status",
        "acknowledged",
        "acknowledged_by",
        "note",
    )
    readonly_fields = fields
    actions = ["acknowledge"]
    object_actions = (("acknowledge", "Acknowledge"),)

    @admin.display(description="Raised", ordering="raised_at")
    def raised(self, alert: SecurityAlert) -> str:
        return seconds(alert.raised_at)

    @admin.display(description="Window start")
    def window(self, alert: SecurityAlert) -> str:
        return seconds(alert.window_start)

    @admin.display(description="Cool-off until")
    def cooloff(self, alert: SecurityAlert) -> str:
        return seconds(alert.cooloff_until)

    @admin.display(description="Acknowledged at")
    def acknowledged(self, alert: SecurityAlert) -> str:
        return seconds(alert.acknowledged_at)

    @admin.display(description="Source")
    def source_linked(self, alert: SecurityAlert) -> SafeString | str:
        return source_link(alert.scope, alert.source)

    @admin.display(description="Detail")
    def details(self, alert: SecurityAlert) -> SafeString:
        return detail_render(alert.detail if isinstance(alert.detail, dict) else {})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a view page: alerts change only by being acknowledged

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_acknowledge_permission(
        self, request: HttpRequest, obj: SecurityAlert | None = None
    ) -> bool:
        user: Any = request.user
        if obj is not None and obj.status != SecurityAlert.Status.OPEN:
            return False
        return bool(user.has_perm("monitoring.change_securityalert"))

    @admin.action(description="Acknowledge selected alerts", permissions=["acknowledge"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[SecurityAlert]) -> None:
        actor = f"admin:{request.user.get_username()}"
        count = 0
        for alert in queryset.filter(status=SecurityAlert.Status.OPEN):
            alert_acknowledge(alert=alert, actor=actor)
            count += 1
        self.message_user(request, f"Acknowledged {count} alert(s).")

    def acknowledge_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """One alert, acknowledged with an optional note."""
        alert = self.get_object(request, unquote(object_id))
        if alert is None:
            raise Http404
        if not self.has_acknowledge_permission(request):
            raise PermissionDenied
        view_url = reverse("admin:monitoring_securityalert_change", args=[alert.pk])
        if alert.status != SecurityAlert.Status.OPEN:
            self.message_user(request, "This alert is acknowledged already.", messages.WARNING)
            return redirect(view_url)
        form = AcknowledgeForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            actor = f"admin:{request.user.get_username()}"
            alert_acknowledge(alert=alert, actor=actor, note=form.cleaned_data["note"])
            self.message_user(request, "Acknowledged the alert.")
            return redirect(view_url)
        return TemplateResponse(
            request,
            "monitoring/securityalert_acknowledge.html",
            {
                **self.admin_site.each_context(request),
                "title": "Acknowledge alert",
                "form": form,
                "alert": alert,
                "opts": self.model._meta,
            },
        )
