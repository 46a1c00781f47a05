"""How a subscription is shown: by the API and in the events about it."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_current_period


class SubscriptionOutputSerializer(serializers.Serializer[Subscription]):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField(help_text="true in live mode, false in test mode.")
    status = serializers.ChoiceField(choices=Subscription.Status.choices)
    status_reason = serializers.CharField(allow_null=True, source="status_reason_or_none")
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    interval = serializers.ChoiceField(choices=Subscription.Interval.choices)
    interval_count = serializers.IntegerField()
    token = serializers.CharField(source="token_id")
    billing_cycle_anchor = serializers.DateTimeField(source="anchor")
    current_period_start = serializers.SerializerMethodField()
    current_period_end = serializers.SerializerMethodField()
    next_billing_at = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    canceled_at = serializers.DateTimeField(allow_null=True)
    description = serializers.CharField()
    metadata = serializers.DictField(child=serializers.CharField())
    created = serializers.DateTimeField(source="created_at")

    def get_object(self, subscription: Subscription) -> str:
        return "subscription"

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_current_period_start(self, subscription: Subscription) -> str:
        return serializers.DateTimeField().to_representation(
            subscription_current_period(subscription)[0]
        )

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_current_period_end(self, subscription: Subscription) -> str:
        return serializers.DateTimeField().to_representation(
            subscription_current_period(subscription)[1]
        )
