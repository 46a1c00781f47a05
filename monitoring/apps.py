from typing import Any

from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django_otp.plugins.otp_static.apps import DefaultConfig as OtpStaticAppConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as OtpTotpAppConfig

from monitoring.audit.guard import sqlite_guard_restore, sqlite_register_guard
from monitoring.observability.telemetry import sentry_init_from_settings


def _on_connection_created(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        sqlite_register_guard(connection)


def _on_post_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    sqlite_guard_restore(using)


class MonitoringConfig(AppConfig):
    default = True
    name = "monitoring"
    verbose_name = "Monitoring and audit"

    def ready(self) -> None:
        # Infrastructure, not business flow: every SQLite connection needs the function that
        # the audit trail's triggers consult.
        connection_created.connect(_on_connection_created, dispatch_uid="monitoring-audit-guard")
        # A later migration that rebuilds the audit table on SQLite drops its triggers.
        post_migrate.connect(_on_post_migrate, sender=self, dispatch_uid="monitoring-guard-restore")
        sentry_init_from_settings()


class TesseraAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with our site (second factor, enrolment, overview) as
    ``admin.site``, so every app's ``@admin.register`` lands on it."""

    default = False
    default_site = "monitoring.security.admin_site.TesseraAdminSite"


# Third-party apps under the names an operator reads in the admin (their own are the bare
# labels: "Axes", "Otp_Totp", "Otp_Static"). Same app labels, so nothing else changes.


class AxesConfig(AxesAppConfig):
    verbose_name = "Sign-in lockouts"


class OtpTotpConfig(OtpTotpAppConfig):
    verbose_name = "Second factor: authenticator apps"


class OtpStaticConfig(OtpStaticAppConfig):
    verbose_name = "Second factor: recovery codes"
