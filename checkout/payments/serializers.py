"""How charges and refunds are shown: by the API and in the events about them."""

from __future__ import annotations

from rest_framework import serializers

from checkout.payments.models import Charge, Refund


class ChargeOutputSerializer(serializers.Serializer[Charge]):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField(help_text="true in live mode, false in test mode.")
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=Charge.Status.choices)
    failure_code = serializers.CharField(allow_null=True, source="failure_code_or_none")
    failure_message = serializers.CharField(allow_null=True, source="failure_message_or_none")
    amount_refunded = serializers.IntegerField()
    refunded = serializers.BooleanField()
    token = serializers.CharField(source="token_id")
    subscription = serializers.CharField(source="subscription_id", allow_null=True)
    description = serializers.CharField()
    metadata = serializers.DictField(child=serializers.CharField())
    created = serializers.DateTimeField(source="created_at")

    def get_object(self, charge: Charge) -> str:
        return "charge"


class RefundOutputSerializer(serializers.Serializer[Refund]):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField(help_text="true in live mode, false in test mode.")
    charge = serializers.CharField(source="charge_id")
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=Refund.Status.choices)
    failure_code = serializers.CharField(allow_null=True, source="failure_code_or_none")
    reason = serializers.CharField()
    created = serializers.DateTimeField(source="created_at")

    def get_object(self, refund: Refund) -> str:
        return "refund"
