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
