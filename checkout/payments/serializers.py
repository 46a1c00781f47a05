"""How charges and refunds are shown: by the API and in the events about them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from checkout.payments.models import Charge, Refund
from vault.models import Token


class CardDetailsSerializer(serializers.Serializer[Token]):
    """The charged card as the token's masked metadata holds it: no ciphertext is read."""

    brand = serializers.CharField()
    last4 = serializers.CharField()
    exp_month = serializers.IntegerField()
    exp_year = serializers.IntegerField()
    fingerprint = serializers.CharField()


class PaymentMethodDetailsSerializer(serializers.Serializer[Token]):
    """Stripe's shape, so a receipt shows the card without reading the token: ``{type, card}``."""

    type = serializers.SerializerMethodField()
    card = CardDetailsSerializer(source="*")

    def get_type(self, token: Token) -> str:
        return "card"


class ChargeOutputSerializer(serializers.Serializer[Charge]):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField(help_text="true in live mode, false in test mode.")
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=Charge.Status.choices)
    failure_code = serializers.CharField(allow_null=True, source="failure_code_or_none")
    failure_message = serializers.CharField(allow_null=True, source="failure_message_or_none")
    captured = serializers.BooleanField(help_text="Whether any of the amount was captured.")
    capture_method = serializers.ChoiceField(
        choices=Charge.CaptureMethod.choices,
        help_text="`automatic`: captured when made; `manual` (`capture: false`): authorised, "
        "captured by `POST /api/v1/charges/{id}/capture`.",
    )
    amount_captured = serializers.IntegerField()
    amount_capturable = serializers.IntegerField(
        help_text="Held and still capturable (an authorization in `requires_capture`)."
    )
    authorization_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="An authorization not captured by then is released."
    )
    amount_refunded = serializers.IntegerField()
    refunded = serializers.BooleanField()
    token = serializers.CharField(source="token_id")
    payment_method_details = PaymentMethodDetailsSerializer(source="token")
    subscription = serializers.CharField(source="subscription_id", allow_null=True)
    description = serializers.CharField()
    metadata = serializers.DictField(child=serializers.CharField())
    created = serializers.DateTimeField(source="created_at")

    def get_object(self, charge: Charge) -> str:
        return "charge"

    def to_representation(self, charge: Charge) -> dict[str, Any]:
        """The declared fields, written out: every charge answer and event renders one, and
        DRF's generic walk over the fields (and the nested card's) cost five times this. The
        declarations stay the schema; a test holds this equal to the generic rendering."""
        fields = self.fields
        token = charge.token
        expires = charge.authorization_expires_at
        subscription = charge.subscription_id
        return {
            "id": str(charge.id),
            "object": "charge",
            "livemode": bool(charge.livemode),
            "amount": int(charge.amount),
            "currency": str(charge.currency),
            "status": str(charge.status),
            "failure_code": charge.failure_code or None,
            "failure_message": charge.failure_message or None,
            "captured": charge.captured,
            "capture_method": str(charge.capture_method),
            "amount_captured": int(charge.amount_captured),
            "amount_capturable": charge.amount_capturable,
            "authorization_expires_at": (
                None
                if expires is None
                else fields["authorization_expires_at"].to_representation(expires)
            ),
            "amount_refunded": int(charge.amount_refunded),
            "refunded": charge.refunded,
            "token": str(charge.token_id),
            "payment_method_details": {
                "type": "card",
                "card": {
                    "brand": str(token.brand),
                    "last4": str(token.last4),
                    "exp_month": int(token.exp_month),
                    "exp_year": int(token.exp_year),
                    "fingerprint": str(token.fingerprint),
                },
            },
            "subscription": None if subscription is None else str(subscription),
            "description": str(charge.description),
            "metadata": {str(k): None if v is None else str(v) for k, v in charge.metadata.items()},
            "created": fields["created"].to_representation(charge.created_at),
        }


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
    metadata = serializers.DictField(child=serializers.CharField())
    created = serializers.DateTimeField(source="created_at")

    def get_object(self, refund: Refund) -> str:
        return "refund"
