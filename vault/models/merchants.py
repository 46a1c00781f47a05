"""Merchants (tenants) and their API keys.

They live in the vault because every token belongs to a merchant and the vault must be
deployable on its own; the checkout app imports them from here, never the other way round.
"""

from __future__ import annotations

from django.db import models

from payments_site.kernel.ids import new_id


def _merchant_id() -> str:
    return new_id("mer")


def _api_key_id() -> str:
    return new_id("key")


class Merchant(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=_merchant_id, editable=False)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    # DRF treats the authenticated principal as ``request.user``; a merchant authenticated by
    # API key is such a principal.
    @property
    def is_authenticated(self) -> bool:
        return True


class ApiKey(models.Model):
    """A merchant's secret key. Only its SHA-256 is stored; the secret is shown once.

    The secret carries 256 random bits, so a fast hash is enough: there is nothing to
    brute-force, unlike a password, and lookups stay one indexed equality.
    """

    class Mode(models.TextChoices):
        TEST = "test", "Test"
        LIVE = "live", "Live"

    id = models.CharField(primary_key=True, max_length=40, default=_api_key_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="api_keys")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise the key.")
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.merchant_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
