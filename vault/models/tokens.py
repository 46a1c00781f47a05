"""Tokens and the only sensitive data Tessera keeps: envelope-encrypted card ciphertexts.

- ``DataKey``: an AES-256 key in its KMS-wrapped form only (plaintext lives in process memory).
- ``EncryptedCard``: one card's AES-256-GCM ciphertext and nonce, and the data key that sealed
  it. Deleting the row destroys the card for good (crypto-shredding).
- ``Token``: what merchants hold. Masked metadata, a keyed fingerprint, lifecycle fields and a
  reference to its ciphertext; no field can hold a card number or a CVC.

The GCM associated data (token id + merchant id) is derived from the token row at decryption
time rather than stored next to the ciphertext: a stored copy would travel with a swapped
ciphertext and prove nothing.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from payments_site.kernel.ids import new_id
from vault.cards import BRAND_RULES

from .merchants import Merchant

BRAND_CHOICES = [(rule.brand, rule.label) for rule in BRAND_RULES]


def _data_key_id() -> str:
    return new_id("dk")


def _token_id() -> str:
    return new_id("tok")


class VaultKeyVersion(models.Model):
    """A version of the VAULT master key that has wrapped data keys (recorded on first use).

    ``retired_at`` is set by ``rewrap_data_keys --retire`` once no data key depends on it.
    """

    key_id = models.CharField(max_length=256)
    key_version = models.CharField(max_length=128, blank=True)
    first_used_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key_id", "key_version"], name="vault_key_version_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.key_id} v{self.key_version or '-'}"


class DataKey(models.Model):
    """A data key, wrapped by the VAULT master key under the context ``{"data_key": id}``.

    Binding the context to the row's own id means a wrapped key copied onto another row does
    not unwrap.
    """

    id = models.CharField(primary_key=True, max_length=40, default=_data_key_id, editable=False)
    wrapped = models.BinaryField(editable=False)
    kms_key_id = models.CharField(max_length=256)
    kms_key_version = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    wrapped_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["kms_key_id", "kms_key_version"])]

    def __str__(self) -> str:
        return self.id


class EncryptedCard(models.Model):
    """AES-256-GCM(data key, nonce, card, AAD = token id + merchant id). Never decrypted here."""

    class Scheme(models.IntegerChoices):
        AES256_GCM_V1 = 1, "AES-256-GCM, 96-bit nonce, AAD v1"

    data_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="cards")
    scheme = models.PositiveSmallIntegerField(choices=Scheme.choices, default=Scheme.AES256_GCM_V1)
    nonce = models.BinaryField(max_length=12, editable=False)
    ciphertext = models.BinaryField(max_length=512, editable=False)

    def __str__(self) -> str:
        return f"encrypted card {self.pk}"


class Token(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked"

    id = models.CharField(primary_key=True, max_length=40, default=_token_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="tokens")
    brand = models.CharField(max_length=20, choices=BRAND_CHOICES)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    fingerprint = models.CharField(max_length=64)
    fingerprint_version = models.PositiveSmallIntegerField(
        default=2, help_text="1: one KMS MAC per card; 2: HMAC under a per-merchant subkey."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    card_data = models.OneToOneField(
        EncryptedCard,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="token",
        help_text="The card's ciphertext; removed (crypto-shredded) when the token is revoked.",
    )
    expires_at = models.DateTimeField(
        db_index=True, help_text="End of the card's expiry month (UTC)."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=200, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "fingerprint"]),
            models.Index(fields=["merchant", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(exp_month__gte=1, exp_month__lte=12), name="token_exp_month_range"
            ),
            models.CheckConstraint(
                condition=Q(exp_year__gte=2000, exp_year__lte=2200), name="token_exp_year_range"
            ),
            # An active token has its ciphertext; a revoked one has none, and says when.
            models.CheckConstraint(
                condition=(
                    Q(status="active", card_data__isnull=False, revoked_at__isnull=True)
                    | Q(status="revoked", card_data__isnull=True, revoked_at__isnull=False)
                ),
                name="token_status_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.brand} •••• {self.last4})"

    @property
    def masked_number(self) -> str:
        return f"•••• {self.last4}"


class RewrapRun(models.Model):
    """One ``rewrap_data_keys`` run. Data keys wrapped before ``started_at`` are its work, so
    an interrupted run resumes where it stopped: what it re-wrapped has a later ``wrapped_at``.
    """

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.CharField(max_length=200)
    rewrapped = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"rewrap {self.started_at:%Y-%m-%d %H:%M}"
