"""Working keys: KMS-rooted key pairs the vault and the checkout use from memory.

One row per environment, use and rotation period; the unique constraint is what makes two
processes reaching a new period at the same moment end up with one key. The private half is
stored only wrapped under the KMS vault key (its encryption context names the use, the
environment and the period); a signing key also carries its certificate, a KMS signature over
its public key, validity window, use and environment.
"""

from __future__ import annotations

from django.db import models


class WorkingKey(models.Model):
    class Use(models.TextChoices):
        CARD_JWE = "card-jwe", "card JWE (ECDH-ES P-256)"
        CARD_SIGN = "card-sign", "card JWT signing (ES256)"

    kid = models.CharField(primary_key=True, max_length=64)  # RFC 7638 thumbprint
    use = models.CharField(max_length=16, choices=Use.choices)
    environment = models.CharField(max_length=64)
    period_start = models.DateTimeField()
    not_after = models.DateTimeField()  # the last moment it makes new JWEs / signatures
    accept_until = models.DateTimeField(db_index=True)  # what it made may still arrive until
    public_jwk = models.JSONField()
    wrapped_private = models.BinaryField()
    wrap_key_id = models.CharField(max_length=256)
    certificate = models.BinaryField(null=True, blank=True)
    certificate_signature = models.BinaryField(null=True, blank=True)
    certificate_signer = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "use", "period_start"], name="working_key_one_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.use} {self.kid}"
