"""Merchant webhooks: events, endpoints, their signing secrets, deliveries and attempts.

- ``Event``: one change of a merchant's object, written in the transaction of the change.
  ``payload`` is the exact JSON document sent to endpoints and returned by the events API
  (text, not ``JSONField``: PostgreSQL's jsonb would reorder its keys). It holds token
  metadata only; nothing in it can be a card number or a CVC.
- ``WebhookEndpoint``: a merchant's URL and the event types it wants.
- ``WebhookSecret``: a signing secret, envelope-encrypted with the vault's data keys (AES-GCM,
  associated data binding it to its endpoint); never stored or shown in clear after creation.
  A rolled secret keeps ``expires_at`` (24 h later) and signs alongside the new one meanwhile.
- ``WebhookDelivery``: one (event, endpoint) pair, unique, so an event is queued for an
  endpoint once; its ``next_attempt_at`` doubles as the lease that keeps a second worker off
  while an attempt runs.
- ``WebhookAttempt``: every HTTP attempt with its status, latency and error.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from payments_site.kernel.ids import new_id
from vault.models import DataKey, Merchant, ModeOwned


def _event_id() -> str:
    return new_id("evt")


def _endpoint_id() -> str:
    return new_id("we")


def _secret_id() -> str:
    return new_id("whk")


class EventType(models.TextChoices):
    CHECKOUT_SESSION_COMPLETED = "checkout.session.completed", "Checkout session completed"
    CHECKOUT_SESSION_EXPIRED = "checkout.session.expired", "Checkout session expired"
    CHARGE_SUCCEEDED = "charge.succeeded", "Charge succeeded"
    CHARGE_FAILED = "charge.failed", "Charge failed"
    CHARGE_AUTHORIZED = "charge.authorized", "Charge authorized"
    CHARGE_CAPTURED = "charge.captured", "Charge captured"
    CHARGE_RELEASED = "charge.released", "Charge released"
    CHARGE_EXPIRED = "charge.expired", "Charge expired"
    CHARGE_REFUNDED = "charge.refunded", "Charge refunded"
    REFUND_SUCCEEDED = "refund.succeeded", "Refund succeeded"
    REFUND_FAILED = "refund.failed", "Refund failed"
    SUBSCRIPTION_CREATED = "subscription.created", "Subscription created"
    SUBSCRIPTION_UPDATED = "subscription.updated", "Subscription updated"
    SUBSCRIPTION_RENEWED = "subscription.renewed", "Subscription renewed"
    SUBSCRIPTION_PAST_DUE = "subscription.past_due", "Subscription past due"
    SUBSCRIPTION_CANCELED = "subscription.canceled", "Subscription canceled"
    TOKEN_REVOKED = "token.revoked", "Token revoked"
    CUSTOMER_CREATED = "customer.created", "Customer created"
    CUSTOMER_UPDATED = "customer.updated", "Customer updated"
    CUSTOMER_DELETED = "customer.deleted", "Customer deleted"
    CUSTOMER_CARD_ATTACHED = "customer.card.attached", "Card saved to a customer"
    CUSTOMER_CARD_DETACHED = "customer.card.detached", "Card detached from a customer"


class Event(ModeOwned):
    id = models.CharField(primary_key=True, max_length=40, default=_event_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=40, choices=EventType.choices)
    api_version = models.CharField(max_length=20)
    object_type = models.CharField(max_length=30)
    object_id = models.CharField(max_length=40, db_index=True)
    payload = models.TextField(help_text="The JSON document sent to endpoints, byte for byte.")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="event_merchant_created"),
            models.Index(fields=["merchant", "type", "-created_at"], name="event_merchant_type"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class WebhookEndpoint(ModeOwned):
    class Status(models.TextChoices):
        ENABLED = "enabled", "Enabled"
        DISABLED = "disabled", "Disabled"

    id = models.CharField(primary_key=True, max_length=40, default=_endpoint_id, editable=False)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    enabled_events = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ENABLED)
    # Why it is disabled: "delivery_failures" (by us) or "requested" (by the merchant).
    disabled_reason = models.CharField(max_length=40, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "status"], name="webhook_endpoint_merchant"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="enabled", disabled_at__isnull=True)
                | Q(status="disabled", disabled_at__isnull=False),
                name="webhook_endpoint_disabled_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def disabled_reason_or_none(self) -> str | None:
        return self.disabled_reason or None


class WebhookSecret(models.Model):
    """AES-256-GCM(vault data key, nonce, secret, AAD = secret id + endpoint id). Deleting the
    row destroys the secret (the data key is shared with other rows and stays)."""

    id = models.CharField(primary_key=True, max_length=40, default=_secret_id, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    data_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="+")
    nonce = models.BinaryField(max_length=12, editable=False)
    ciphertext = models.BinaryField(editable=False)
    created_at = models.DateTimeField()
    # NULL: the current secret. Set on a roll: the old secret signs too until then.
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint"],
                condition=Q(expires_at__isnull=True),
                name="webhook_secret_one_current",
            ),
        ]

    def __str__(self) -> str:
        return f"secret {self.id} of {self.endpoint_id}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (retries exhausted)"
        CANCELED = "canceled", "Canceled (endpoint deleted)"

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    # The mode of its event and endpoint (always the same: events go to endpoints of their mode).
    livemode = models.BooleanField()
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When a worker may attempt it next; while an attempt runs, the end of its lease.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Start of the current retry window (the first attempt, or the last manual resend).
    window_started_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=40, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"], name="webhook_delivery_once_per_endpoint"
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
                name="webhook_delivery_pending_is_scheduled",
            ),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(delivered_at__isnull=False),
                name="webhook_delivery_succeeded_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST (or one refusal before it: a forbidden address, a DNS failure)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    sequence = models.PositiveIntegerField(help_text="1 for the first attempt, 2 for the next…")
    started_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # "" when the endpoint answered 2xx; else a code: http_status, timeout, connection_failed,
    # tls_error, dns_failed, address_forbidden, invalid_response…
    error = models.CharField(max_length=40, blank=True)
    error_detail = models.CharField(max_length=300, blank=True)
    # The first bytes of the endpoint's answer, redacted, for support.
    response_excerpt = models.CharField(max_length=500, blank=True)
    # The address actually connected to (after vetting); empty when nothing was connected.
    remote_address = models.CharField(max_length=45, blank=True)

    class Meta:
        ordering = ["delivery", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "sequence"], name="webhook_attempt_sequence_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"attempt {self.sequence} of delivery {self.delivery_id}"

    @property
    def succeeded(self) -> bool:
        return not self.error
