"""How a checkout session is shown: by the API and in the events about it."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from checkout.sessions.models import CheckoutSession


class CheckoutSessionOutputSerializer(serializers.Serializer[CheckoutSession]):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField(help_text="true in live mode, false in test mode.")
    url = serializers.SerializerMethodField()
    mode = serializers.ChoiceField(choices=CheckoutSession.Mode.choices)
    status = serializers.ChoiceField(choices=CheckoutSession.Status.choices)
    payment_status = serializers.SerializerMethodField()
    amount = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField(allow_null=True, source="currency_or_none")
    interval = serializers.CharField(allow_null=True, source="interval_or_none")
    interval_count = serializers.IntegerField(allow_null=True)
    description = serializers.CharField()
    capture_method = serializers.CharField()
    customer_reference = serializers.CharField()
    customer = serializers.CharField(source="customer_id", allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    success_url = serializers.CharField()
    cancel_url = serializers.CharField()
    token = serializers.CharField(source="token_id", allow_null=True)
    charge = serializers.CharField(source="charge_id", allow_null=True)
    subscription = serializers.CharField(source="subscription_id", allow_null=True)
    attempts = serializers.IntegerField()
    last_failure_code = serializers.CharField(allow_null=True, source="last_failure_code_or_none")
    created = serializers.DateTimeField(source="created_at")
    expires_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    def get_object(self, session: CheckoutSession) -> str:
        return "checkout.session"

    def get_url(self, session: CheckoutSession) -> str:
        path = reverse("checkout-page", kwargs={"session_id": session.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_payment_status(self, session: CheckoutSession) -> str:
        """``paid`` once the charge succeeded, ``no_payment_required`` for setup sessions; a
        manual-capture session stays ``unpaid`` (authorised, not captured: see its charge)."""
        if session.mode == CheckoutSession.Mode.SETUP:
            return "no_payment_required"
        paid = session.status == CheckoutSession.Status.COMPLETE
        return "paid" if paid and session.capture_method != "manual" else "unpaid"
