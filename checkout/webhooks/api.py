"""``/api/v1/events`` and ``/api/v1/webhook_endpoints``: thin views over the services."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout.api.common import (
    MetadataField,
    PageParamsSerializer,
    list_page,
    page_response,
    page_serializer,
    problem_responses,
)
from checkout.payments.api import CHARGE_EXAMPLE
from checkout.payments.idempotency.api import IDEMPOTENCY_PARAMETER, idempotent
from checkout.webhooks.models import Event, EventType, WebhookEndpoint
from payments_site.parameters import input_validate
from vault.authentication import request_merchant

from .selectors import event_document, event_get, event_list, webhook_endpoint_list
from .serializers import EventDocumentSerializer
from .services import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_get,
    webhook_endpoint_secret_roll,
    webhook_endpoint_update,
)

EVENT_TYPES = [*EventType.values]


class EventOutputSerializer(EventDocumentSerializer):
    """Schema only: an event is answered exactly as it was sent to endpoints."""


EventPageSerializer = page_serializer("EventPage", EventOutputSerializer)

EVENT_EXAMPLE = {
    "id": "evt_1Rq2Wc8xTnM4pVb7Lr0sKd",
    "object": "event",
    "livemode": False,
    "type": "charge.succeeded",
    "api_version": "v1",
    "created": "2030-01-31T10:00:00Z",
    "data": {"object": CHARGE_EXAMPLE},
}


class EventListApi(APIView):
    @extend_schema_serializer(component_name="EventFilter")
    class FilterSerializer(PageParamsSerializer):
        type = serializers.RegexField(
            r"^[a-z_]+(\.[a-z_]+)*(\.\*)?$",
            max_length=40,
            required=False,
            help_text="An event type (`charge.succeeded`) or a group (`charge.*`).",
        )
        object = serializers.CharField(
            max_length=40, required=False, help_text="Only events about this object id."
        )
        created_gte = serializers.DateTimeField(required=False)
        created_lte = serializers.DateTimeField(required=False)

        def validate_type(self, value: str) -> str:
            known = value in EVENT_TYPES or (
                value.endswith(".*") and any(t.startswith(value[:-1]) for t in EVENT_TYPES)
            )
            if not known:
                raise serializers.ValidationError(
                    f"Unknown event type. Known: {', '.join(EVENT_TYPES)}."
                )
            return value

    @extend_schema(
        operation_id="events_list",
        summary="List events",
        description="Newest first, kept for at least 30 days. Same shape as webhook payloads.",
        parameters=[FilterSerializer],
        responses={200: EventPageSerializer, **problem_responses(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        merchant = request_merchant(request)

        def query(object: str | None = None, **filters: Any) -> QuerySet[Event]:
            return event_list(merchant=merchant, object_id=object, **filters)

        page = list_page(request, self.FilterSerializer, query)
        return Response(
            {
                "object": "list",
                "data": [event_document(e) for e in page.items],
                "has_more": page.has_more,
            }
        )


class EventDetailApi(APIView):
    @extend_schema(
        operation_id="events_retrieve",
        summary="Retrieve an event",
        responses={200: EventOutputSerializer, **problem_responses(401, 404, 429)},
        examples=[OpenApiExample("charge.succeeded", value=EVENT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, event_id: str) -> Response:
        event = event_get(merchant=request_merchant(request), event_id=event_id)
        return Response(event_document(event))


# --- endpoints -----------------------------------------------------------------------------------


class WebhookEndpointOutputSerializer(serializers.Serializer[WebhookEndpoint]):
    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    livemode = serializers.BooleanField(help_text="true in live mode, false in test mode.")
    url = serializers.CharField()
    description = serializers.CharField()
    metadata = serializers.DictField(child=serializers.CharField())
    enabled_events = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=WebhookEndpoint.Status.choices)
    disabled_reason = serializers.CharField(allow_null=True, source="disabled_reason_or_none")
    created = serializers.DateTimeField(source="created_at")

    def get_object(self, endpoint: WebhookEndpoint) -> str:
        return "webhook_endpoint"


class WebhookEndpointWithSecretSerializer(WebhookEndpointOutputSerializer):
    secret = serializers.SerializerMethodField(
        help_text="`whsec_…`: shown in this answer only. Store it now; roll it if lost."
    )

    def get_secret(self, endpoint: WebhookEndpoint) -> str | None:
        secret: str | None = self.context.get("secret")
        return secret


ENDPOINT_EXAMPLE = {
    "id": "we_7Gm2Qx0LrT9bVn3Kc8Wd1a",
    "object": "webhook_endpoint",
    "livemode": False,
    "url": "https://shop.example.com/tessera/webhooks",
    "description": "",
    "metadata": {},
    "enabled_events": ["charge.succeeded", "subscription.renewed", "subscription.past_due"],
    "status": "enabled",
    "disabled_reason": None,
    "created": "2030-01-31T10:00:00Z",
}
WebhookEndpointPageSerializer = page_serializer(
    "WebhookEndpointPage", WebhookEndpointOutputSerializer
)


def _with_secret(endpoint: WebhookEndpoint, secret: str | None, status: int) -> Response:
    """The answer carrying the secret. Its idempotent replay (``@idempotent`` stores answers in
    the database for 24 h) carries ``"secret": null`` instead: a secret is never stored in
    clear, not even there. A client that lost the first answer rolls the secret."""
    response = Response(
        WebhookEndpointWithSecretSerializer(endpoint, context={"secret": secret}).data,
        status=status,
    )
    response.idempotency_replay_data = WebhookEndpointWithSecretSerializer(  # type: ignore[attr-defined]
        endpoint, context={"secret": None}
    ).data
    return response


def _endpoint(request: Request, endpoint_id: str) -> WebhookEndpoint:
    return webhook_endpoint_get(merchant=request_merchant(request), endpoint_id=endpoint_id)


def _created_effect(request: Request, endpoint_id: str) -> Response:
    """A create or roll made already: the endpoint, its secret never shown again."""
    return _with_secret(_endpoint(request, endpoint_id), None, 201)


def _rolled_effect(request: Request, endpoint_id: str) -> Response:
    return _with_secret(_endpoint(request, endpoint_id), None, 200)


def _updated_effect(request: Request, endpoint_id: str) -> Response:
    return Response(WebhookEndpointOutputSerializer(_endpoint(request, endpoint_id)).data)


def _deleted_effect(request: Request, endpoint_id: str) -> Response:
    # Deleted endpoints keep their row (for the delivery log), so the first answer is rebuilt.
    endpoint = WebhookEndpoint.objects.owned_by(request_merchant(request)).get(pk=endpoint_id)
    return _deleted(endpoint)


def _deleted(endpoint: WebhookEndpoint) -> Response:
    return Response(
        {
            "id": endpoint.pk,
            "object": "webhook_endpoint",
            "livemode": endpoint.livemode,
            "deleted": True,
        }
    )


class WebhookEndpointListCreateApi(APIView):
    @extend_schema_serializer(component_name="WebhookEndpointCreate")
    class InputSerializer(serializers.Serializer[Any]):
        url = serializers.CharField(
            max_length=2000,
            help_text="https URL on a public address (never private, loopback or link-local).",
        )
        enabled_events = serializers.ListField(
            child=serializers.CharField(max_length=40),
            allow_empty=False,
            max_length=len(EVENT_TYPES) + 1,
            help_text=f'Any of {", ".join(EVENT_TYPES)}; or ["*"] for every type.',
        )
        description = serializers.CharField(max_length=500, required=False, allow_blank=True)
        metadata = MetadataField(required=False)

    @extend_schema(
        operation_id="webhook_endpoints_list",
        summary="List webhook endpoints",
        parameters=[PageParamsSerializer],
        responses={200: WebhookEndpointPageSerializer, **problem_responses(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        query = partial(webhook_endpoint_list, merchant=request_merchant(request))
        page = list_page(request, PageParamsSerializer, query)
        return Response(page_response(page, WebhookEndpointOutputSerializer))

    @extend_schema(
        operation_id="webhook_endpoints_create",
        summary="Create a webhook endpoint",
        description=(
            "Events of the listed types are POSTed to `url`, signed with the returned "
            "`secret` (`Tessera-Signature`). The secret is shown in this answer only."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: WebhookEndpointWithSecretSerializer,
            **problem_responses(400, 401, 409, 422, 429),
        },
        examples=[
            OpenApiExample(
                "endpoint",
                value={
                    "url": ENDPOINT_EXAMPLE["url"],
                    "enabled_events": ENDPOINT_EXAMPLE["enabled_events"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "created",
                value={**ENDPOINT_EXAMPLE, "secret": "whsec_…"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    @idempotent(effect=_created_effect)
    def post(self, request: Request) -> Response:
        data = input_validate(self.InputSerializer, request.data)
        endpoint, secret = webhook_endpoint_create(
            merchant=request_merchant(request),
            url=data["url"],
            enabled_events=data["enabled_events"],
            description=data.get("description", ""),
            metadata=data.get("metadata"),
        )
        return _with_secret(endpoint, secret, 201)


class WebhookEndpointDetailApi(APIView):
    @extend_schema_serializer(component_name="WebhookEndpointUpdate")
    class UpdateSerializer(serializers.Serializer[Any]):
        url = serializers.CharField(max_length=2000, required=False)
        enabled_events = serializers.ListField(
            child=serializers.CharField(max_length=40),
            allow_empty=False,
            max_length=len(EVENT_TYPES) + 1,
            required=False,
        )
        description = serializers.CharField(max_length=500, required=False, allow_blank=True)
        metadata = MetadataField(required=False)
        disabled = serializers.BooleanField(
            required=False,
            help_text="false re-enables an endpoint (pending deliveries resume); true pauses it.",
        )

    @extend_schema(
        operation_id="webhook_endpoints_retrieve",
        summary="Retrieve a webhook endpoint",
        responses={200: WebhookEndpointOutputSerializer, **problem_responses(401, 404, 429)},
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = webhook_endpoint_get(merchant=request_merchant(request), endpoint_id=endpoint_id)
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhook_endpoints_update",
        summary="Update a webhook endpoint",
        request=UpdateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: WebhookEndpointOutputSerializer,
            **problem_responses(400, 401, 404, 409, 422, 429),
        },
    )
    @idempotent(effect=_updated_effect)
    def post(self, request: Request, endpoint_id: str) -> Response:
        data = input_validate(self.UpdateSerializer, request.data)
        endpoint = webhook_endpoint_update(
            merchant=request_merchant(request),
            endpoint_id=endpoint_id,
            url=data.get("url"),
            enabled_events=data.get("enabled_events"),
            description=data.get("description"),
            metadata=data.get("metadata"),
            disabled=data.get("disabled"),
        )
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhook_endpoints_delete",
        summary="Delete a webhook endpoint",
        description="Pending deliveries are canceled and the signing secrets destroyed.",
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: OpenApiTypes.OBJECT,
            **problem_responses(401, 404, 429),
        },
        examples=[
            OpenApiExample(
                "deleted",
                value={
                    "id": ENDPOINT_EXAMPLE["id"],
                    "object": "webhook_endpoint",
                    "livemode": False,
                    "deleted": True,
                },
                response_only=True,
            )
        ],
    )
    @idempotent(effect=_deleted_effect)
    def delete(self, request: Request, endpoint_id: str) -> Response:
        endpoint = webhook_endpoint_delete(
            merchant=request_merchant(request), endpoint_id=endpoint_id
        )
        return _deleted(endpoint)


class WebhookEndpointRollSecretApi(APIView):
    @extend_schema(
        operation_id="webhook_endpoints_roll_secret",
        summary="Roll a webhook endpoint's signing secret",
        description=(
            "Returns a new `secret` (shown once). For 24 hours deliveries carry two `v1` "
            "signatures, under the new and the previous secret; then only the new one."
        ),
        request=None,
        parameters=[
            IDEMPOTENCY_PARAMETER,
            OpenApiParameter("endpoint_id", OpenApiTypes.STR, OpenApiParameter.PATH),
        ],
        responses={
            200: WebhookEndpointWithSecretSerializer,
            **problem_responses(401, 404, 409, 422, 429),
        },
    )
    @idempotent(effect=_rolled_effect)
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint, secret = webhook_endpoint_secret_roll(
            merchant=request_merchant(request), endpoint_id=endpoint_id
        )
        return _with_secret(endpoint, secret, 200)
