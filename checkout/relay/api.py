"""``/api/v1/forward``: send a token's card to a registered destination; read a forward."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout.api.common import MetadataField, problem_responses
from checkout.api.throttling import ApiKeyRateThrottle
from checkout.payments.idempotency.api import IDEMPOTENCY_PARAMETER, idempotent
from payments_site.parameters import input_validate
from vault.authentication import request_merchant

from .models import Forward, ForwardMethod
from .serializers import ForwardOutputSerializer
from .services import forward_create, forward_get

FORWARD_EXAMPLE = {
    "id": "fwd_7Gm2QkT9xWb4nLp0ZrC8vA",
    "object": "forward",
    "livemode": False,
    "destination": "fdst_3Hq8LmW0zXc5vBn2KpR7tY",
    "token": "tok_5HkqP0x2GQw8sVnR1dLmZc",
    "method": "POST",
    "path": "/v1/cards",
    "purpose": "card on file at Partner",
    "metadata": {"order": "1042"},
    "status": "completed",
    "failure_code": None,
    "response": {
        "status": 201,
        "content_type": "application/json",
        "body": '{"id": "card_91", "echo": "[REDACTED-PAN]"}',
        "truncated": False,
    },
    "created": "2030-01-31T10:00:00Z",
}


def _forward_answer(forward: Forward) -> Response:
    return Response(ForwardOutputSerializer(forward).data, status=201)


def _forward_effect(request: Request, forward_id: str) -> Response:
    return _forward_answer(forward_get(merchant=request_merchant(request), forward_id=forward_id))


class ForwardCreateApi(APIView):
    throttle_classes = [ApiKeyRateThrottle]

    @extend_schema_serializer(component_name="ForwardCreate")
    class InputSerializer(serializers.Serializer[Any]):
        token = serializers.CharField(max_length=40, help_text="A `tok_…` id of this merchant.")
        url = serializers.CharField(
            max_length=2000,
            help_text="https:// URL inside a destination an operator registered for this "
            "mode (its host, port and path prefix).",
        )
        method = serializers.ChoiceField(
            choices=ForwardMethod.choices,
            required=False,
            help_text="Default: the destination's method (the only one it takes).",
        )
        headers = serializers.DictField(
            child=serializers.CharField(max_length=2000, allow_blank=True),
            required=False,
            help_text="Sent as given (credentials for the destination, Content-Type); at "
            "most 20; no placeholders.",
        )
        body = serializers.CharField(
            max_length=65536,
            allow_blank=True,
            trim_whitespace=False,
            help_text="The request body with placeholders `{{card.number}}`, "
            "`{{card.exp_month}}` (two digits), `{{card.exp_year}}` (four), `{{card.name}}`, "
            "`{{card.last4}}`, `{{card.brand}}`, escaped for the Content-Type. The CVC is "
            "never stored, so it cannot be forwarded.",
        )
        purpose = serializers.CharField(
            max_length=120, help_text="Why the card is revealed; kept in the audit trail."
        )
        metadata = MetadataField(required=False)

    @extend_schema(
        operation_id="forward_create",
        summary="Forward a card to a registered destination",
        description=(
            "Reveals the token's card in memory, fills it into `body` and sends it over TLS to "
            "the registered destination the `url` falls in — to the address that was vetted, "
            "with no redirects followed. `201` with `status` `completed` and the destination's "
            "`response` (every card number masked), or `failed` with a `failure_code` when "
            "there is no usable answer. An unregistered host, a path outside the prefix, a "
            "method or a card field the destination may not receive, or a destination that "
            "resolves to a private address are refused before anything is revealed."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ForwardOutputSerializer, **problem_responses(400, 401, 403, 409, 422, 429)},
        examples=[
            OpenApiExample(
                "forward",
                value={
                    "token": FORWARD_EXAMPLE["token"],
                    "url": "https://partner.example/v1/cards",
                    "headers": {"Authorization": "Bearer partner-key"},
                    "body": '{"pan": "{{card.number}}", "exp": "{{card.exp_month}}/'
                    '{{card.exp_year}}"}',
                    "purpose": "card on file at Partner",
                    "metadata": {"order": "1042"},
                },
                request_only=True,
            ),
            OpenApiExample(
                "completed", value=FORWARD_EXAMPLE, response_only=True, status_codes=["201"]
            ),
        ],
    )
    @idempotent(effect=_forward_effect)
    def post(self, request: Request) -> Response:
        data = input_validate(self.InputSerializer, request.data)
        forward = forward_create(
            merchant=request_merchant(request),
            token_id=data["token"],
            url=data["url"],
            method=data.get("method"),
            headers=data.get("headers"),
            body=data["body"],
            purpose=data["purpose"],
            metadata=data.get("metadata"),
        )
        return _forward_answer(forward)


class ForwardDetailApi(APIView):
    @extend_schema(
        operation_id="forward_retrieve",
        summary="Retrieve a forward",
        responses={200: ForwardOutputSerializer, **problem_responses(401, 404, 429)},
        examples=[OpenApiExample("forward", value=FORWARD_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, forward_id: str) -> Response:
        forward = forward_get(merchant=request_merchant(request), forward_id=forward_id)
        return Response(ForwardOutputSerializer(forward).data)
