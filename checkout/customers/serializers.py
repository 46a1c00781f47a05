"""How a customer and its cards are shown: by the API and in the events about them."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout.customers.models import Customer, CustomerCard
from checkout.customers.selectors import customer_default_token_id


class CustomerOutputSerializer(serializers.Serializer[Customer]):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField(help_text="true in live mode, false in test mode.")
    name = serializers.CharField()
    email = serializers.CharField()
    description = serializers.CharField()
    metadata = serializers.DictField(child=serializers.CharField())
    default_token = serializers.SerializerMethodField(
        help_text="The token of the default card: renewals of subscriptions without a token of "
        "their own charge it."
    )
    created = serializers.DateTimeField(source="created_at")
    deleted = serializers.BooleanField(
        help_text="true once deleted: name, email, description and metadata are erased."
    )

    def get_object(self, customer: Customer) -> str:
        return "customer"

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_default_token(self, customer: Customer) -> str | None:
        return customer_default_token_id(customer)


class CustomerCardOutputSerializer(serializers.Serializer[CustomerCard]):
    """A saved card: its token's masked metadata (never more) and how it is saved."""

    id = serializers.CharField(source="token_id", help_text="The token (`tok_…`).")
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField(help_text="true in live mode, false in test mode.")
    customer = serializers.CharField(source="customer_id")
    default = serializers.BooleanField(source="is_default")
    brand = serializers.CharField(source="token.brand")
    last4 = serializers.CharField(source="token.last4")
    exp_month = serializers.IntegerField(source="token.exp_month")
    exp_year = serializers.IntegerField(source="token.exp_year")
    fingerprint = serializers.CharField(
        help_text="The same card saved twice has one fingerprint, and is one card."
    )
    expired = serializers.SerializerMethodField()
    created = serializers.DateTimeField(source="attached_at", help_text="When it was saved.")
    detached_at = serializers.DateTimeField(allow_null=True)

    def get_object(self, card: CustomerCard) -> str:
        return "customer_card"

    def get_expired(self, card: CustomerCard) -> bool:
        return card.token.expires_at <= timezone.now()
