"""How a token is shown outside the vault: by its API and in the events about it."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from .models import Token


class TokenOutputSerializer(serializers.Serializer[Token]):
    """Masked metadata only: there is no field through which a card could leave."""

    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField(help_text="true in live mode, false in test mode.")
    brand = serializers.CharField()
    last4 = serializers.CharField()
    exp_month = serializers.IntegerField()
    exp_year = serializers.IntegerField()
    fingerprint = serializers.CharField()
    status = serializers.CharField()
    expired = serializers.SerializerMethodField()
    created = serializers.DateTimeField(source="created_at")
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)

    def get_object(self, token: Token) -> str:
        return "token"

    def get_expired(self, token: Token) -> bool:
        return token.expires_at <= timezone.now()
