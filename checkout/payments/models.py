"""Charges and refunds on vault tokens. No card data: a charge points at its token."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from payments_site.kernel.ids import new_id
from vault.models import Merchant, ModeOwned, Token


def _charge_id() -> str:
    return new_id("ch")


def _refund_id() -> str:
    return new_id("re")


class Charge(ModeOwned):
    """A charge, captured at once (``capture_method`` automatic) or authorised now and
    captured later (manual): ``requires_capture`` holds the funds until one capture of all or
    part of them, a release, or the hold's expiry (``authorization_expires_at``). ``capturing``,
    ``releasing`` and ``expiring`` are the in-flight steps: committed before the processor is
    called, ended by its answer or by reconciliation."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        REQUIRES_CAPTURE = "requires_capture", "Requires capture"
        CAPTURING = "capturing", "Capturing"
        RELEASING = "releasing", "Releasing"
        EXPIRING = "expiring", "Expiring"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    class CaptureMethod(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic"
        MANUAL = "manual", "Manual"

    # Our id is also the processor's idempotency key for this charge.
    id = models.CharField(primary_key=True, max_length=40, default=_charge_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="charges")
    token = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="charges")
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=50, blank=True)
    failure_message = models.CharField(max_length=200, blank=True)
    capture_method = models.CharField(
        max_length=10, choices=CaptureMethod.choices, default=CaptureMethod.AUTOMATIC
    )
    # What was captured: the whole amount of an automatic charge, the capture of a manual one.
    amount_captured = models.PositiveBigIntegerField(default=0)
    # The capture asked for, recorded before the processor is called (resent as it was).
    capture_amount = models.PositiveBigIntegerField(null=True, blank=True)
    # An authorization not captured by then is released (``charges_expire``).
    authorization_expires_at = models.DateTimeField(null=True, blank=True)
    # When the in-flight step (capturing, releasing, expiring) began: reconciled after a while.
    step_started_at = models.DateTimeField(null=True, blank=True)
    # The processor's reference for the in-flight step once it accepted it for a later answer
    # (Adyen's ``received``): the step then ends by notification, not by re-sending it.
    step_processor_id = models.CharField(max_length=100, blank=True)
    # The step ("charge", "capture") whose lost answer may not be re-sent any more
    # (``checkout.payments.resend``): reconciliation passes it by; its notification settles it.
    resend_stopped = models.CharField(max_length=10, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    amount_refunded = models.PositiveBigIntegerField(default=0)
    processor = models.CharField(max_length=40)
    processor_id = models.CharField(max_length=100, blank=True)
    # The merchant's Idempotency-Key: one charge per key, whatever the HTTP layer does.
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    # Recurring billing: which subscription period, which dunning attempt.
    subscription = models.ForeignKey(
        "checkout.Subscription",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="charges",
    )
    period = models.PositiveIntegerField(null=True, blank=True)
    attempt = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="charge_merchant_created"),
            models.Index(
                fields=["merchant", "livemode", "-created_at"], name="charge_owner_created"
            ),
            models.Index(fields=["status", "created_at"], name="charge_status_created"),
            models.Index(
                fields=["status", "authorization_expires_at"], name="charge_status_auth_expires"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="charge_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_refunded__lte=F("amount_captured")),
                name="charge_refund_within_captured",
            ),
            models.CheckConstraint(
                condition=Q(amount_captured__lte=F("amount")),
                name="charge_capture_within_amount",
            ),
            # Only an authorization (manual capture) has the capture steps.
            models.CheckConstraint(
                condition=Q(capture_method="manual")
                | ~Q(
                    status__in=[
                        "requires_capture",
                        "capturing",
                        "releasing",
                        "expiring",
                        "released",
                        "expired",
                    ]
                ),
                name="charge_capture_steps_are_manual",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(failure_code=""),
                name="charge_failed_has_code",
            ),
            models.UniqueConstraint(
                fields=["merchant", "livemode", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="charge_one_per_idempotency_key",
            ),
            # Exactly one charge per (subscription, period, attempt)…
            models.UniqueConstraint(
                fields=["subscription", "period", "attempt"],
                condition=Q(subscription__isnull=False),
                name="charge_one_per_period_attempt",
            ),
            # …and never two live (pending or paid) charges for one period.
            models.UniqueConstraint(
                fields=["subscription", "period"],
                condition=Q(subscription__isnull=False, status__in=["pending", "succeeded"]),
                name="charge_one_live_per_period",
            ),
            models.CheckConstraint(
                condition=Q(subscription__isnull=True)
                | Q(period__isnull=False, attempt__isnull=False),
                name="charge_subscription_has_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.amount} {self.currency} {self.status}"

    @property
    def refunded(self) -> bool:
        return self.amount_captured > 0 and self.amount_refunded >= self.amount_captured

    @property
    def captured(self) -> bool:
        return self.amount_captured > 0

    @property
    def amount_capturable(self) -> int:
        """Still held and capturable: the whole amount while the authorization stands."""
        return self.amount if self.status == Charge.Status.REQUIRES_CAPTURE else 0

    @property
    def failure_code_or_none(self) -> str | None:
        return self.failure_code or None

    @property
    def failure_message_or_none(self) -> str | None:
        return self.failure_message or None


class Refund(ModeOwned):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    id = models.CharField(primary_key=True, max_length=40, default=_refund_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="refunds")
    charge = models.ForeignKey(Charge, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=50, blank=True)
    processor_id = models.CharField(max_length=100, blank=True)
    # "refund" once its lost answer may not be re-sent any more (``checkout.payments.resend``).
    resend_stopped = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(db_index=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.amount} {self.currency} {self.status}"

    @property
    def failure_code_or_none(self) -> str | None:
        return self.failure_code or None
