"""``/api/v1/subscriptions``: put a token on a schedule, list, read, cancel."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
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
from checkout.api.throttling import ApiKeyRateThrottle
from checkout.billing.models import Subscription
from checkout.billing.selectors import subscription_charges, subscription_list
from checkout.billing.serializers import SubscriptionOutputSerializer
from checkout.billing.services import (
    subscription_cancel,
    subscription_create,
    subscription_get,
)
from checkout.payments.api import ChargeOutputSerializer
from checkout.payments.idempotency.api import IDEMPOTENCY_PARAMETER, idempotent
from monitoring.observability.clientip import client_ip
from monitoring.security.http import CooloffWriteThrottle
from monitoring.security.rules import api_client_source
from payments_site.parameters import input_validate
from vault.authentication import request_merchant


class SubscriptionDetailOutputSerializer(SubscriptionOutputSerializer):
    charges = serializers.SerializerMethodField()

    @extend_schema_field(ChargeOutputSerializer(many=True))
    def get_charges(self, subscription: Subscription) -> list[dict[str, Any]]:
        charges: Any = subscription_charges(subscription=subscription)
        data: Any = ChargeOutputSerializer(charges, many=True).data
        return list(data)


SUBSCRIPTION_EXAMPLE: dict[str, Any] = {
    "id": "sub_1Yq2Wc8xTnM4pVb7Lr0sKd",
    "object": "subscription",
    "livemode": False,
    "status": "active",
    "status_reason": None,
    "amount": 900,
    "currency": "EUR",
    "interval": "month",
    "interval_count": 1,
    "token": "tok_5HkqP0x2GQw8sVnR1dLmZc",
    "customer": None,
    "uses_customer_default": False,
    "billing_cycle_anchor": "2030-01-31T00:00:00Z",
    "current_period_start": "2030-01-31T00:00:00Z",
    "current_period_end": "2030-02-28T00:00:00Z",
    "next_billing_at": "2030-01-31T00:00:00Z",
    "cancel_at_period_end": False,
    "canceled_at": None,
    "description": "",
    "metadata": {},
    "created": "2030-01-30T09:12:44Z",
}

SubscriptionPageSerializer = page_serializer("SubscriptionPage", SubscriptionOutputSerializer)


def _subscription(request: Request, subscription_id: str) -> Subscription:
    return subscription_get(merchant=request_merchant(request), subscription_id=subscription_id)


def _created_effect(request: Request, subscription_id: str) -> Response:
    data = SubscriptionOutputSerializer(_subscription(request, subscription_id)).data
    return Response(data, status=201)


def _canceled_effect(request: Request, subscription_id: str) -> Response:
    return Response(SubscriptionOutputSerializer(_subscription(request, subscription_id)).data)


class SubscriptionListCreateApi(APIView):
    # Like charges: a client cooling off after card testing through the API cannot start
    # subscriptions either (their first charge is a card attempt), and is counted by it.
    throttle_classes = [ApiKeyRateThrottle, CooloffWriteThrottle]

    @extend_schema_serializer(component_name="SubscriptionCreate")
    class InputSerializer(serializers.Serializer[Any]):
        token = serializers.CharField(
            max_length=40,
            required=False,
            help_text="The card to bill; with `customer`, one of its cards. Required unless "
            "`customer` is given.",
        )
        customer = serializers.CharField(
            max_length=40,
            required=False,
            help_text="Without `token`: every attempt charges this customer's default card.",
        )
        amount = serializers.IntegerField(min_value=1, max_value=settings.CHARGE_MAX_AMOUNT)
        currency = serializers.RegexField(r"^[A-Za-z]{3}$")
        interval = serializers.ChoiceField(choices=Subscription.Interval.choices)
        interval_count = serializers.IntegerField(min_value=1, max_value=365, default=1)
        start = serializers.DateTimeField(
            required=False, help_text="Start of the first period (default: now); billed then."
        )
        description = serializers.CharField(max_length=500, required=False, allow_blank=True)
        metadata = MetadataField(required=False)

    @extend_schema_serializer(component_name="SubscriptionFilter")
    class FilterSerializer(PageParamsSerializer):
        token = serializers.CharField(max_length=40, required=False)
        customer = serializers.CharField(max_length=40, required=False)
        status = serializers.ChoiceField(choices=Subscription.Status.choices, required=False)
        created_gte = serializers.DateTimeField(required=False)
        created_lte = serializers.DateTimeField(required=False)

    @extend_schema(
        operation_id="subscriptions_list",
        summary="List subscriptions",
        parameters=[FilterSerializer],
        responses={200: SubscriptionPageSerializer, **problem_responses(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        query = partial(subscription_list, merchant=request_merchant(request))
        page = list_page(request, self.FilterSerializer, query)
        return Response(page_response(page, SubscriptionOutputSerializer))

    @extend_schema(
        operation_id="subscriptions_create",
        summary="Create a subscription",
        description=(
            "Charges the token every `interval_count` `interval`s from `start`. Month-end "
            "anchors are clamped (31 Jan → 28/29 Feb → 31 Mar). Failed renewals are retried "
            "(dunning: +1, +3, +5 days), the subscription is `past_due` meanwhile and "
            "`canceled` when the retries are exhausted."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: SubscriptionOutputSerializer,
            **problem_responses(400, 401, 403, 409, 422, 429),
        },
        examples=[
            OpenApiExample(
                "monthly",
                value={
                    "token": "tok_5HkqP0x2GQw8sVnR1dLmZc",
                    "amount": 900,
                    "currency": "EUR",
                    "interval": "month",
                    "interval_count": 1,
                    "start": "2030-01-31T00:00:00Z",
                },
                request_only=True,
            ),
            OpenApiExample(
                "created",
                value=SUBSCRIPTION_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    @idempotent(effect=_created_effect)
    def post(self, request: Request) -> Response:
        data = input_validate(self.InputSerializer, request.data)
        merchant = request_merchant(request)
        subscription = subscription_create(
            merchant=merchant,
            token_id=data.get("token"),
            customer_id=data.get("customer"),
            amount=data["amount"],
            currency=data["currency"],
            interval=data["interval"],
            interval_count=data["interval_count"],
            start=data.get("start"),
            description=data.get("description", ""),
            metadata=data.get("metadata"),
            api_client=api_client_source(merchant_id=merchant.pk, ip=client_ip(request._request)),
        )
        subscription.refresh_from_db()  # the first charge may have run inline on commit
        return Response(SubscriptionOutputSerializer(subscription).data, status=201)


class SubscriptionDetailApi(APIView):
    @extend_schema_serializer(component_name="SubscriptionCancel")
    class CancelSerializer(serializers.Serializer[Any]):
        at_period_end = serializers.BooleanField(
            required=False,
            default=False,
            help_text="true: stop renewing but keep the paid period; default: cancel at once.",
        )

    @extend_schema(
        operation_id="subscriptions_retrieve",
        summary="Retrieve a subscription with its charges",
        responses={200: SubscriptionDetailOutputSerializer, **problem_responses(401, 404, 429)},
    )
    def get(self, request: Request, subscription_id: str) -> Response:
        subscription = subscription_get(
            merchant=request_merchant(request), subscription_id=subscription_id
        )
        return Response(SubscriptionDetailOutputSerializer(subscription).data)

    @extend_schema(
        operation_id="subscriptions_cancel",
        summary="Cancel a subscription",
        parameters=[CancelSerializer, IDEMPOTENCY_PARAMETER],
        responses={200: SubscriptionOutputSerializer, **problem_responses(400, 401, 404, 429)},
    )
    @idempotent(effect=_canceled_effect)
    def delete(self, request: Request, subscription_id: str) -> Response:
        options = input_validate(self.CancelSerializer, request.query_params)
        subscription = subscription_cancel(
            merchant=request_merchant(request),
            subscription_id=subscription_id,
            at_period_end=options["at_period_end"],
        )
        return Response(SubscriptionOutputSerializer(subscription).data)
