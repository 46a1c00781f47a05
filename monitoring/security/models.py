"""Security alerts and admin recovery codes. Alerts hold ids and codes handed in by other apps,
never card data."""

from __future__ import annotations

from typing import Any

from django.db import models
from django_otp.plugins.otp_static.models import StaticDevice

from monitoring.security.recovery_codes import recovery_code_digests


class SecurityAlert(models.Model):
    """A rule over recent activity fired for one source (an address, a checkout session, a
    merchant, a card fingerprint or a merchant's API client). One per rule, source and window:
    the database refuses a second, so a burst on several app servers still raises one alert."""

    class Scope(models.TextChoices):
        IP = "ip", "Source address"
        SESSION = "session", "Checkout session"
        MERCHANT = "merchant", "Merchant"
        FINGERPRINT = "fingerprint", "Card fingerprint"
        CLIENT = "client", "API client (merchant at an address)"
        GLOBAL = "global", "Every source"

    class Severity(models.TextChoices):
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"

    rule = models.CharField(max_length=80, db_index=True)
    scope = models.CharField(max_length=20, choices=Scope.choices)
    source = models.CharField(max_length=200, db_index=True)
    window_start = models.DateTimeField()
    raised_at = models.DateTimeField(db_index=True)
    observed = models.FloatField(help_text="The value that crossed the threshold.")
    threshold = models.FloatField()
    severity = models.CharField(max_length=10, choices=Severity.choices)
    detail = models.JSONField(default=dict, blank=True)
    cooloff_until = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "scope", "source", "window_start"],
                name="securityalert_one_per_rule_source_window",
            ),
            models.CheckConstraint(
                condition=models.Q(status="open", acknowledged_at__isnull=True)
                | models.Q(status="acknowledged", acknowledged_at__isnull=False),
                name="securityalert_acknowledged_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.scope}={self.source} ({self.status})"


class RecoveryCodeDevice(StaticDevice):
    """django-otp's static device, with its codes stored only as keyed hashes
    (``monitoring.security.recovery_codes``): a copy of the database gives no way
    into the admin. A code is spent by one conditional DELETE, so two logins racing with the
    same code cannot both pass."""

    class Meta:
        proxy = True
        verbose_name = "recovery code set"

    def verify_token(self, token: Any) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        spent, _ = self.token_set.filter(token__in=recovery_code_digests(str(token))).delete()
        if not spent:
            self.throttle_increment()
            return False
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True
