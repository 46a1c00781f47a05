"""The audit trail's rows. Holds ids and codes handed in by other apps, never card data."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One security-relevant action (PCI DSS 10.2): who did what to what, and how it ended."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        DENIED = "denied", "Denied"

    occurred_at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=100, blank=True, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=100, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # SHA-256 over the canonical content (``canonical.event_digest``), computed by the writer.
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.outcome}"


class AuditSeal(models.Model):
    """A link of the chain over events: every event with ``low_id < id <= high_id``, listed as
    ``[id, digest]`` pairs, and the previous seal's ``hash``. Some seals carry a signature of
    their ``hash`` by the audit signing key (KMS ``Sign``), which vouches for every seal and
    event before them. Append-only like the events."""

    number = models.PositiveBigIntegerField(unique=True)
    low_id = models.BigIntegerField()
    high_id = models.BigIntegerField()
    events = models.JSONField(default=list)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    sealed_at = models.DateTimeField()
    key_id = models.CharField(max_length=128, blank=True)
    signature = models.CharField(max_length=256, blank=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"seal {self.number} (events {self.low_id + 1}..{self.high_id})"
