"""How a subscription is shown: by the API and in the events about it."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout.billing.models import Subscription
from checkout.billing.services import subscription_current_period
from checkout.customers.selectors import customer_default_token_id


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
    token = serializers.SerializerMethodField(
        help_text="The card the next attempt charges: with `uses_customer_default`, the "
        "customer's default card of the moment."
    )
    customer = serializers.CharField(source="customer_id", allow_null=True)
    uses_customer_default = serializers.BooleanField(
        help_text="true: created with a customer and no token; every attempt charges the "
        "customer's default card."
    )
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

    @extend_schema_field(OpenApiTypes.STR)
    def get_token(self, subscription: Subscription) -> str:
        if subscription.uses_customer_default and subscription.customer is not None:
            return customer_default_token_id(subscription.customer) or subscription.token_id
        return subscription.token_id

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
