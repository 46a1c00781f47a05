"""How a forward looks in the API: the destination's answer, masked; never the body sent."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from .models import Forward


@extend_schema_serializer(component_name="ForwardResponse")
class ForwardResponseSerializer(serializers.Serializer[Any]):
    status = serializers.IntegerField(help_text="The destination's HTTP status.")
    content_type = serializers.CharField(allow_blank=True)
    body = serializers.CharField(
        allow_blank=True, help_text="The destination's answer, card numbers masked."
    )
    truncated = serializers.BooleanField(help_text="The answer was longer than 64 KiB.")


@extend_schema_serializer(component_name="Forward")
class ForwardOutputSerializer(serializers.Serializer[Forward]):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    destination = serializers.CharField(source="destination_id")
    token = serializers.CharField(source="token_id")
    method = serializers.CharField()
    path = serializers.CharField()
    purpose = serializers.CharField(allow_blank=True)
    metadata = serializers.DictField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=Forward.Status.choices)
    failure_code = serializers.CharField(
        allow_null=True,
        source="failure_code_or_none",
        help_text="Why a `failed` forward has no answer: timeout, tls_error, "
        "destination_redirected, connection_refused, …",
    )
    response = serializers.SerializerMethodField()
    created = serializers.DateTimeField(source="created_at")

    def get_object(self, forward: Forward) -> str:
        return "forward"

    @extend_schema_field(ForwardResponseSerializer(allow_null=True))
    def get_response(self, forward: Forward) -> dict[str, Any] | None:
        if forward.status != Forward.Status.COMPLETED or forward.response_status is None:
            return None
        return {
            "status": forward.response_status,
            "content_type": forward.response_content_type,
            "body": forward.response_body,
            "truncated": forward.response_truncated,
        }
