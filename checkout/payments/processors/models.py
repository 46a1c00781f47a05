"""The sandbox processor's books (checkout/processors/sandbox.py). Not our charges: this is the
stand-in for the processor's own ledger, which is how idempotency at the processor is real."""

from __future__ import annotations

from django.db import models


class SandboxLedgerEntry(models.Model):
    class Kind(models.TextChoices):
        CHARGE = "charge", "Charge"
        AUTHORIZE = "authorize", "Authorization"
        CAPTURE = "capture", "Capture"
        VOID = "void", "Void"
        REFUND = "refund", "Refund"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=255, unique=True)
    processor_id = models.CharField(max_length=40, unique=True)
    request_digest = models.CharField(max_length=64)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    approved = models.BooleanField()
    failure_code = models.CharField(max_length=50, blank=True)
    # The charge or authorization a capture, void or refund acts on (its processor id).
    parent = models.CharField(max_length=40, blank=True, db_index=True)
    # An authorization of a card that declines at capture: the code its capture gets.
    capture_failure_code = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "sandbox ledger entry"
        verbose_name_plural = "sandbox ledger entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.processor_id}"


class AdyenNotification(models.Model):
    """One Adyen notification item, applied once: unique on its PSP reference, event code and
    success (Adyen re-sends until it gets ``[accepted]``, and items may arrive in any order;
    an item may be followed by its opposite, e.g. ``AUTHORISATION`` false then true)."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        UNCHANGED = "unchanged", "Nothing to change"
        UNKNOWN = "unknown", "No such charge or refund"
        CONFLICT = "conflict", "Conflicts with our record (operator alerted)"

    psp_reference = models.CharField(max_length=64)
    event_code = models.CharField(max_length=64)
    original_reference = models.CharField(max_length=64, blank=True)
    merchant_reference = models.CharField(max_length=100, blank=True)
    merchant_account = models.CharField(max_length=100, blank=True)
    success = models.BooleanField()
    live = models.BooleanField()
    amount_value = models.BigIntegerField(null=True, blank=True)
    amount_currency = models.CharField(max_length=3, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    event_date = models.CharField(max_length=40, blank=True)
    # The charge it concerns (our id, from the merchant reference), "" when we know none.
    charge_id = models.CharField(max_length=40, blank=True, db_index=True)
    refund_id = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["psp_reference", "event_code", "success"], name="adyen_notification_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_code} {self.psp_reference}"
