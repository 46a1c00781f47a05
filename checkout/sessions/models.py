"""Checkout sessions: one hosted payment page, paid (or a card saved) at most once.

A session holds no card data. It points at what its completion produced: the token, and for
``payment`` / ``subscription`` the charge and the subscription. ``nonce`` is the page nonce the
browser puts into the card JWE; it changes with every attempt, so a JWE is good for one attempt
on one page of one session.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from payments_site.kernel.ids import new_id
from vault.models import Merchant, ModeOwned, Token


def _session_id() -> str:
    return new_id("cs")


def _page_nonce() -> str:
    return new_id("pn")


class CheckoutSession(ModeOwned):
    class Mode(models.TextChoices):
        PAYMENT = "payment", "Payment"
        SETUP = "setup", "Setup"
        SUBSCRIPTION = "subscription", "Subscription"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        # An attempt is running (card being tokenized or charged); at most one at a time.
        PROCESSING = "processing", "Processing"
        COMPLETE = "complete", "Complete"
        EXPIRED = "expired", "Expired"

    id = models.CharField(primary_key=True, max_length=40, default=_session_id, editable=False)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="checkout_sessions"
    )
    mode = models.CharField(max_length=12, choices=Mode.choices)
    amount = models.PositiveBigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    interval = models.CharField(max_length=5, blank=True)
    interval_count = models.PositiveSmallIntegerField(null=True, blank=True)
    description = models.CharField(max_length=500, blank=True)
    # ``manual``: a payment session only authorises; the merchant captures the charge later.
    capture_method = models.CharField(
        max_length=10,
        choices=[("automatic", "Automatic"), ("manual", "Manual")],
        default="automatic",
    )
    customer_reference = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    success_url = models.CharField(max_length=2000)
    cancel_url = models.CharField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    nonce = models.CharField(max_length=40, default=_page_nonce)
    attempts = models.PositiveIntegerField(default=0)
    last_failure_code = models.CharField(max_length=50, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    token = models.ForeignKey(
        Token, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    charge = models.ForeignKey(
        "checkout.Charge", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(
        "checkout.Customer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Completing the session saves its card to this customer.",
    )
    subscription = models.ForeignKey(
        "checkout.Subscription",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="cs_merchant_created"),
        ]
        constraints = [
            # payment and subscription carry an amount; setup carries none.
            models.CheckConstraint(
                condition=(Q(mode="setup", amount__isnull=True) | Q(amount__gt=0)),
                name="cs_amount_by_mode",
            ),
            models.CheckConstraint(
                condition=Q(mode="payment") | Q(capture_method="automatic"),
                name="cs_manual_capture_is_payment",
            ),
            models.CheckConstraint(
                condition=Q(mode="subscription") | Q(interval=""),
                name="cs_interval_only_for_subscription",
            ),
            models.CheckConstraint(
                condition=~Q(mode="subscription") | ~Q(interval=""),
                name="cs_subscription_has_interval",
            ),
            # A complete session says when, and has its token (and charge unless setup).
            models.CheckConstraint(
                condition=~Q(status="complete")
                | Q(completed_at__isnull=False, token__isnull=False),
                name="cs_complete_has_token",
            ),
            models.CheckConstraint(
                condition=~Q(status="complete") | Q(mode="setup") | Q(charge__isnull=False),
                name="cs_complete_paid_has_charge",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="cs_expires_after_created"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.mode} {self.status}"

    @property
    def currency_or_none(self) -> str | None:
        return self.currency or None

    @property
    def interval_or_none(self) -> str | None:
        return self.interval or None

    @property
    def last_failure_code_or_none(self) -> str | None:
        return self.last_failure_code or None
