"""Merchants (tenants) and their API keys.

They live in the vault because every token belongs to a merchant and the vault must be
deployable on its own; the checkout app imports them from here, never the other way round.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models

from payments_site.kernel.ids import new_id

_M = TypeVar("_M", bound=models.Model)


def _merchant_id() -> str:
    return new_id("mer")


def _api_key_id() -> str:
    return new_id("key")


class Merchant(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=_merchant_id, editable=False)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # The mode this instance acts in: set from the API key (or the checkout session) that
    # brought it, None for a merchant loaded on its own. Not a column: one merchant has both.
    livemode: bool | None = None

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    def in_mode(self, livemode: bool) -> Merchant:
        """This merchant acting in one mode (a copy: the instance itself is left as it is)."""
        # ``copy.copy`` without its reduce-and-reconstruct round: Django's own state copy (the
        # instance's state and relation cache copied too), on every API request.
        acting = object.__new__(type(self))
        acting.__dict__ = self.__getstate__()
        acting.livemode = bool(livemode)
        return acting

    def acting_livemode(self) -> bool:
        """The mode this instance acts in. Refuses to guess: a query or a write made without a
        mode would see or mix both, so it is a programming error, not a default."""
        if self.livemode is None:
            raise RuntimeError(f"merchant {self.pk} acts in no mode; use in_mode()")
        return self.livemode

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


class OwnedQuerySet(models.QuerySet[_M]):
    """Rows of merchant-owned models. ``owned_by`` is the one way the API, the pages and the
    tasks narrow them to a merchant: it always adds the mode, so a resource added later cannot
    forget it (``tests/test_modes_scoping.py`` finds any other filter on ``merchant``)."""

    def owned_by(self, merchant: Merchant) -> OwnedQuerySet[_M]:
        return self.filter(merchant=merchant, livemode=merchant.acting_livemode())


class ModeOwned(models.Model):
    """A merchant-owned object in one mode. ``livemode`` has no default: a create that forgets
    it fails (NOT NULL) instead of landing in a mode by accident."""

    livemode = models.BooleanField(
        help_text="Made with a live key (true) or a test key (false); never changes."
    )

    objects = OwnedQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def owner(self) -> Merchant:
        """The merchant acting in this object's mode (for work that follows from the object)."""
        merchant: Merchant = self.merchant  # type: ignore[attr-defined]
        return merchant.in_mode(self.livemode)
