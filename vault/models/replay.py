"""Replay protection for card JWTs."""

from __future__ import annotations

from django.db import models


class UsedJti(models.Model):
    """A ``jti`` seen by the ingest. The primary key makes a second insert fail on any app
    server; rows are kept until the JWT expires (then ``purge_used_jtis`` removes them)."""

    jti = models.CharField(primary_key=True, max_length=64)
    expires_at = models.DateTimeField(db_index=True)
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "used card-JWT id"

    def __str__(self) -> str:
        return self.jti
