"""A customer and the cards saved to it.

``CustomerCard`` is the link from a customer to a vault token (the vault knows nothing of
customers). The database holds the invariants: a token is saved to at most one customer, a
card (its fingerprint) at most once per customer while attached, and a customer has at most
one default card, which is one of its attached cards.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from payments_site.kernel.ids import new_id
from vault.models import Merchant, ModeOwned, Token


def _customer_id() -> str:
    return new_id("cus")


class Customer(ModeOwned):
    """``name`` and ``email`` are personal data: shown to the merchant's key, masked in the
    admin list, never logged, and erased when the customer is deleted (the row stays, so
    charges, subscriptions and the audit trail keep pointing at something)."""

    id = models.CharField(primary_key=True, max_length=40, default=_customer_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="customers")
    name = models.CharField(max_length=256, blank=True)
    email = models.CharField(max_length=254, blank=True)
    description = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="customer_merchant_created"),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


class CustomerCard(ModeOwned):
    """A token saved to a customer, in the customer's mode. Detaching revokes the token (its
    card is crypto-shredded) and keeps this row, with ``detached_at``, for the record."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="cards")
    # The token is the card's identity: its id is the card's id in the API and in events.
    token = models.OneToOneField(
        Token, on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    fingerprint = models.CharField(
        max_length=64, help_text="The token's card fingerprint: one card is saved once."
    )
    is_default = models.BooleanField(default=False)
    attached_at = models.DateTimeField()
    detached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-attached_at", "-token"]
        indexes = [
            models.Index(fields=["customer", "-attached_at"], name="customer_card_attached"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "fingerprint"],
                condition=Q(detached_at__isnull=True),
                name="customer_card_once",
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_default=True),
                name="customer_one_default_card",
            ),
            models.CheckConstraint(
                condition=Q(is_default=False) | Q(detached_at__isnull=True),
                name="customer_default_card_attached",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.token_id}"
