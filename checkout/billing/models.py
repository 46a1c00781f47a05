"""Subscriptions: a token charged on a calendar schedule."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from checkout.customers.models import Customer
from payments_site.kernel.ids import new_id
from vault.models import Merchant, ModeOwned, Token


def _subscription_id() -> str:
    return new_id("sub")


class Subscription(ModeOwned):
    """Billing state machine.

    ``period`` is the period the next (or running) attempt pays for, ``failed_attempts`` how
    often it failed so far. ``next_billing_at`` is when the runner acts next; it is NULL while a
    charge is in flight (the claim that keeps other workers off) and once canceled.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due"
        CANCELED = "canceled", "Canceled"

    class Interval(models.TextChoices):
        DAY = "day", "Day"
        WEEK = "week", "Week"
        MONTH = "month", "Month"
        YEAR = "year", "Year"

    id = models.CharField(primary_key=True, max_length=40, default=_subscription_id, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="subscriptions")
    token = models.ForeignKey(
        Token,
        on_delete=models.PROTECT,
        related_name="subscriptions",
        help_text="The card the next attempt charges (the last one charged, until then).",
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subscriptions",
    )
    uses_customer_default = models.BooleanField(
        default=False,
        help_text="Created with a customer and no token: each attempt charges the customer's "
        "default card of that moment.",
    )
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    interval = models.CharField(max_length=5, choices=Interval.choices)
    interval_count = models.PositiveSmallIntegerField(default=1)
    anchor = models.DateTimeField(help_text="Start of period 0; every period is computed from it.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=50, blank=True)
    period = models.PositiveIntegerField(default=0)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    next_billing_at = models.DateTimeField(null=True, blank=True, db_index=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_billing_at"], name="subscription_due"),
            models.Index(fields=["merchant", "-created_at"], name="subscription_merchant_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="subscription_amount_positive"),
            models.CheckConstraint(
                condition=Q(interval_count__gte=1), name="subscription_interval_count_positive"
            ),
            models.CheckConstraint(
                condition=~Q(status="canceled") | Q(canceled_at__isnull=False),
                name="subscription_canceled_has_time",
            ),
            models.CheckConstraint(
                condition=Q(uses_customer_default=False) | Q(customer__isnull=False),
                name="subscription_default_card_has_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.amount} {self.currency}/{self.interval_count} {self.interval}"

    @property
    def status_reason_or_none(self) -> str | None:
        return self.status_reason or None
