"""Idempotency keys: one row per (merchant, mode, key), inserted before the request runs: a
test key and a live key never share an answer."""

from __future__ import annotations

from django.db import models

from vault.models import Merchant, ModeOwned


class IdempotencyKey(ModeOwned):
    """The unique row is the lock: a second request with the same key cannot insert it, so it
    either replays the stored response, or learns that the first is still running."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # HMAC of method, path and canonical body: compares requests without storing their bodies.
    request_fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    locked_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "livemode", "key"], name="idempotency_key_unique_per_mode"
            ),
            models.CheckConstraint(
                condition=models.Q(status="in_progress") | models.Q(response_status__isnull=False),
                name="idempotency_completed_has_response",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}:{self.key[:20]} ({self.status})"
