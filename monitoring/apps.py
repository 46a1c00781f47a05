from typing import Any

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created


def _on_connection_created(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        from .audit import sqlite_register_guard

        sqlite_register_guard(connection)


class MonitoringConfig(AppConfig):
    default = True
    name = "monitoring"
    verbose_name = "Monitoring and audit"

    def ready(self) -> None:
        # Infrastructure, not business flow: every SQLite connection needs the function that
        # the audit trail's triggers consult.
        connection_created.connect(_on_connection_created, dispatch_uid="monitoring-audit-guard")
        from .telemetry import sentry_init_from_settings

        sentry_init_from_settings()


class TesseraAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with our site (second factor, enrolment, overview) as
    ``admin.site``, so every app's ``@admin.register`` lands on it."""

    default = False
    default_site = "monitoring.admin_site.TesseraAdminSite"
