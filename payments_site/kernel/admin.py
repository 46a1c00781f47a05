"""Admin building blocks every app shares.

The read-only admin: operators look, they never add, change or delete, for records that are
evidence (the audit trail, events, deliveries) or that only the services may change (money
moves through the API and the billing runner, never through a form). Such objects get a
"View …" page without Save buttons; what an operator may do to one (revoke a token,
acknowledge an alert) is an object action: its own page, permission and form, audited by the
service it calls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone


class ReadOnlyAdminMixin:
    """Mix into a ``ModelAdmin`` or an inline, before it: ``class X(ReadOnlyAdminMixin,
    admin.ModelAdmin[M])``."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ObjectActionsMixin:
    """Buttons on an object's page for actions with their own page and permission.

    ``object_actions`` lists ``(name, label)``; each needs ``<name>_view(request, object_id)``
    and ``has_<name>_permission(request, obj)``. The view is served at
    ``<object_id>/<name>/`` under the URL name ``<app>_<model>_<name>``; the button shows only
    to those allowed (the view must check again).
    """

    object_actions: ClassVar[tuple[tuple[str, str], ...]] = ()
    model: Any
    admin_site: Any

    def object_action_url_name(self, name: str) -> str:
        opts = self.model._meta
        return f"{opts.app_label}_{opts.model_name}_{name}"

    def get_urls(self) -> list[URLPattern]:
        own: list[URLPattern] = [
            path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(getattr(self, f"{name}_view")),
                name=self.object_action_url_name(name),
            )
            for name, _label in self.object_actions
        ]
        return own + super().get_urls()  # type: ignore[misc]

    def object_actions_for(self, request: HttpRequest, obj: Any) -> list[tuple[str, str]]:
        """``(label, url)`` of the actions this user may take on ``obj`` now."""
        out = []
        for name, label in self.object_actions:
            allowed: Callable[[HttpRequest, Any], bool] = getattr(self, f"has_{name}_permission")
            if allowed(request, obj):
                url = reverse(
                    f"{self.admin_site.name}:{self.object_action_url_name(name)}", args=[obj.pk]
                )
                out.append((label, url))
        return out

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
        extra = {**(extra_context or {})}
        if obj is not None:
            extra["object_actions"] = self.object_actions_for(request, obj)
        return super().change_view(request, object_id, form_url, extra)  # type: ignore[misc]


def seconds(value: datetime | None) -> str:
    """A time as operators compare it with logs: to the second, in the site's time zone."""
    if value is None:
        return "-"
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S %Z}"
