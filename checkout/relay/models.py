"""The forwarding relay: destinations an operator vetted, and each forward made to one.

- ``ForwardDestination``: one partner endpoint a merchant may send a card to, in one mode:
  its host and port, the path prefix requests must stay under, the one method it takes, and
  which card fields it may receive. Only operators create them (the admin); the merchant names
  a URL and it must fall inside one.
- ``Forward``: one relayed request, written ``pending`` (and bound to its idempotency key)
  before the card is revealed, so a retry never sends it twice. It keeps the destination's
  status and its answer with every card number masked; the request body (which held the
  card) is never stored.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from payments_site.kernel.ids import new_id
from vault.models import Merchant, ModeOwned, Token


def _destination_id() -> str:
    return new_id("fdst")


def _forward_id() -> str:
    return new_id("fwd")


class CardField(models.TextChoices):
    """What a body template may ask for. The CVC is not here: the vault never stores it."""

    NUMBER = "number", "Card number"
    EXP_MONTH = "exp_month", "Expiry month (two digits)"
    EXP_YEAR = "exp_year", "Expiry year (four digits)"
    NAME = "name", "Cardholder name"
    LAST4 = "last4", "Last four digits"
    BRAND = "brand", "Brand"


class ForwardMethod(models.TextChoices):
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"


class ForwardDestination(ModeOwned):
    id = models.CharField(primary_key=True, max_length=40, default=_destination_id, editable=False)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="forward_destinations"
    )
    name = models.CharField(max_length=200, help_text="Who receives the cards, for people.")
    host = models.CharField(
        max_length=253, help_text="DNS name (lowercase) of the destination; https only."
    )
    port = models.PositiveIntegerField(default=443)
    path_prefix = models.CharField(
        max_length=500, default="/", help_text="Requests must go to a path under this one."
    )
    method = models.CharField(
        max_length=6, choices=ForwardMethod.choices, default=ForwardMethod.POST
    )
    allowed_fields = models.JSONField(
        default=list, help_text="Card fields the destination may receive (CardField values)."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["merchant", "host", "path_prefix"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "livemode", "host", "port", "path_prefix"],
                name="forward_destination_unique",
            ),
            models.CheckConstraint(
                condition=Q(path_prefix__startswith="/"), name="forward_destination_prefix"
            ),
        ]

    def __str__(self) -> str:
        mode = "live" if self.livemode else "test"
        return f"{self.name} ({self.method} https://{self.host}{self.path_prefix}, {mode})"


class Forward(ModeOwned):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETED = "completed", "Completed"  # the destination answered (any status)
        FAILED = "failed", "Failed"  # no usable answer: network, TLS, timeout, redirect

    id = models.CharField(primary_key=True, max_length=40, default=_forward_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="forwards")
    destination = models.ForeignKey(
        ForwardDestination, on_delete=models.PROTECT, related_name="forwards"
    )
    token = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="forwards")
    method = models.CharField(max_length=6, choices=ForwardMethod.choices)
    path = models.CharField(max_length=2000)
    purpose = models.CharField(max_length=200)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=40, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_content_type = models.CharField(max_length=200, blank=True)
    response_body = models.TextField(blank=True, help_text="Card numbers masked.")
    response_truncated = models.BooleanField(default=False)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="forward_merchant")]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def failure_code_or_none(self) -> str | None:
        return self.failure_code or None
