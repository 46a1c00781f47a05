"""``/api/v1/checkout/sessions``: create a hosted checkout page, read how it ended."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
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
from checkout.payments.idempotency.api import IDEMPOTENCY_PARAMETER, idempotent
from checkout.sessions.models import CheckoutSession
from checkout.sessions.selectors import checkout_session_list
from checkout.sessions.serializers import CheckoutSessionOutputSerializer
from checkout.sessions.services import (
    MAX_TTL_SECONDS,
    MAX_URL_LENGTH,
    MIN_TTL_SECONDS,
    checkout_session_create,
    checkout_session_expire,
    checkout_session_get,
)
from monitoring.security.http import CooloffWriteThrottle
from payments_site.parameters import input_validate
from vault.authentication import request_api_key, request_merchant

SESSION_EXAMPLE = {
    "id": "cs_4Bv0a9QkTq1sLr7WmZp2Xc",
    "object": "checkout.session",
    "livemode": False,
    "url": "https://pay.example.com/checkout/cs_4Bv0a9QkTq1sLr7WmZp2Xc/",
    "mode": "payment",
    "status": "complete",
    "payment_status": "paid",
    "amount": 1999,
    "currency": "EUR",
    "interval": None,
    "interval_count": None,
    "description": "Order #1042",
    "capture_method": "automatic",
    "customer_reference": "customer-77",
    "customer": None,
    "metadata": {"order_id": "1042"},
    "success_url": "https://shop.example.com/thanks",
    "cancel_url": "https://shop.example.com/cart",
    "token": "tok_5HkqP0x2GQw8sVnR1dLmZc",
    "charge": "ch_3xq9ZbL0kq2rT8yWcN4vQa",
    "subscription": None,
    "attempts": 1,
    "last_failure_code": None,
    "created": "2030-01-31T10:00:00Z",
    "expires_at": "2030-01-31T10:30:00Z",
    "completed_at": "2030-01-31T10:02:11Z",
}

CheckoutSessionPageSerializer = page_serializer(
    "CheckoutSessionPage", CheckoutSessionOutputSerializer
)


def _session_answer(request: Request, session: CheckoutSession) -> Response:
    body = CheckoutSessionOutputSerializer(session, context={"request": request}).data
    return Response(body, status=201, headers={"Location": body["url"]})


def _expired_effect(request: Request, session_id: str) -> Response:
    session = checkout_session_get(merchant=request_merchant(request), session_id=session_id)
    return Response(CheckoutSessionOutputSerializer(session, context={"request": request}).data)


def _session_effect(request: Request, session_id: str) -> Response:
    session = checkout_session_get(merchant=request_merchant(request), session_id=session_id)
    return _session_answer(request, session)


class CheckoutSessionListCreateApi(APIView):
    # A merchant's client (or address) cooling off after card testing opens no new pages.
    throttle_classes = [ApiKeyRateThrottle, CooloffWriteThrottle]

    @extend_schema_serializer(component_name="CheckoutSessionFilter")
    class FilterSerializer(PageParamsSerializer):
        status = serializers.ChoiceField(choices=CheckoutSession.Status.choices, required=False)
        mode = serializers.ChoiceField(choices=CheckoutSession.Mode.choices, required=False)
        created_gte = serializers.DateTimeField(required=False)
        created_lte = serializers.DateTimeField(required=False)

    @extend_schema(
        operation_id="checkout_sessions_list",
        summary="List checkout sessions",
        description="Newest first; an open session past `expires_at` is listed as `expired`.",
        parameters=[FilterSerializer],
        responses={200: CheckoutSessionPageSerializer, **problem_responses(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        merchant = request_merchant(request)
        query = partial(checkout_session_list, merchant=merchant)
        page = list_page(request, self.FilterSerializer, query)
        context = {"request": request}  # absolute page URLs
        return Response(page_response(page, CheckoutSessionOutputSerializer, context))

    @extend_schema_serializer(component_name="CheckoutSessionCreate")
    class InputSerializer(serializers.Serializer[Any]):
        mode = serializers.ChoiceField(choices=CheckoutSession.Mode.choices)
        amount = serializers.IntegerField(
            min_value=1,
            max_value=settings.CHARGE_MAX_AMOUNT,
            required=False,
            help_text="Minor units; required for payment and subscription, absent for setup.",
        )
        currency = serializers.RegexField(
            r"^[A-Za-z]{3}$", required=False, help_text="ISO 4217, e.g. EUR."
        )
        interval = serializers.ChoiceField(
            choices=Subscription.Interval.choices,
            required=False,
            help_text="Subscriptions only: how often to charge.",
        )
        interval_count = serializers.IntegerField(min_value=1, required=False)
        success_url = serializers.CharField(
            max_length=MAX_URL_LENGTH,
            help_text=(
                "https URL the shopper lands on when done; `{CHECKOUT_SESSION_ID}` in it "
                "becomes the session's id, nothing else is added."
            ),
        )
        cancel_url = serializers.CharField(max_length=MAX_URL_LENGTH)
        description = serializers.CharField(max_length=500, required=False, allow_blank=True)
        customer_reference = serializers.CharField(max_length=200, required=False, allow_blank=True)
        customer = serializers.CharField(
            max_length=40,
            required=False,
            source="customer_id",
            help_text="A customer (`cus_…`): the card is saved to it once the session completes "
            "(and a subscription session's subscription is the customer's).",
        )
        metadata = MetadataField(required=False)
        capture_method = serializers.ChoiceField(
            choices=["automatic", "manual"],
            required=False,
            help_text="Payment sessions: `manual` only authorises the card (the charge is "
            "`requires_capture`); capture it with `POST /api/v1/charges/{id}/capture`.",
        )
        expires_in = serializers.IntegerField(
            min_value=MIN_TTL_SECONDS,
            max_value=MAX_TTL_SECONDS,
            required=False,
            help_text="Seconds until the page expires (default 1800).",
        )

    @extend_schema(
        operation_id="checkout_sessions_create",
        summary="Create a checkout session",
        description=(
            "A hosted page where the shopper enters a card: `payment` charges `amount` once, "
            "`setup` saves the card as a token, `subscription` charges the first `interval` "
            "now and creates a subscription from the next one. Send the shopper to `url`."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: CheckoutSessionOutputSerializer,
            **problem_responses(400, 401, 403, 409, 422, 429),
        },
        examples=[
            OpenApiExample(
                "payment",
                value={
                    "mode": "payment",
                    "amount": 1999,
                    "currency": "EUR",
                    "success_url": "https://shop.example.com/thanks",
                    "cancel_url": "https://shop.example.com/cart",
                },
                request_only=True,
            )
        ],
    )
    @idempotent(effect=_session_effect)
    def post(self, request: Request) -> Response:
        data = input_validate(self.InputSerializer, request.data)
        session = checkout_session_create(merchant=request_merchant(request), **data)
        return _session_answer(request, session)


class CheckoutSessionDetailApi(APIView):
    @extend_schema(
        operation_id="checkout_sessions_retrieve",
        summary="Retrieve a checkout session",
        description="Its status and outcome: the token, charge and subscription it produced.",
        responses={200: CheckoutSessionOutputSerializer, **problem_responses(401, 404, 429)},
        examples=[OpenApiExample("complete", value=SESSION_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, session_id: str) -> Response:
        session = checkout_session_get(merchant=request_merchant(request), session_id=session_id)
        return Response(CheckoutSessionOutputSerializer(session, context={"request": request}).data)


class CheckoutSessionExpireApi(APIView):
    @extend_schema(
        operation_id="checkout_sessions_expire",
        summary="Expire a checkout session",
        description=(
            "Closes an open session now: its page takes no card from then on, and "
            "`checkout.session.expired` is sent. Only an open session can be expired: one "
            "complete, already expired or with a card being processed is a 409 "
            "(`session_complete`, `session_expired`, `session_busy`)."
        ),
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: CheckoutSessionOutputSerializer, **problem_responses(401, 404, 409, 429)},
        examples=[
            OpenApiExample(
                "expired",
                value={
                    **SESSION_EXAMPLE,
                    "status": "expired",
                    "payment_status": "unpaid",
                    "token": None,
                    "charge": None,
                    "attempts": 0,
                    "completed_at": None,
                },
                response_only=True,
            )
        ],
    )
    @idempotent(effect=_expired_effect)
    def post(self, request: Request, session_id: str) -> Response:
        session = checkout_session_expire(
            merchant=request_merchant(request),
            session_id=session_id,
            actor=f"api_key:{request_api_key(request).id}",
        )
        return Response(CheckoutSessionOutputSerializer(session, context={"request": request}).data)
