"""``/api/v1/charges`` and ``/api/v1/refunds``: charge a token now (or authorise it and capture
later), list and read charges and refunds, capture or release authorizations, refund a charge."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
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
from checkout.payments.authorizations import charge_capture, charge_release
from checkout.payments.idempotency.api import HEADER, IDEMPOTENCY_PARAMETER, idempotent
from checkout.payments.models import Charge, Refund
from checkout.payments.selectors import charge_list, refund_list
from checkout.payments.serializers import ChargeOutputSerializer, RefundOutputSerializer
from checkout.payments.services import charge_create, charge_get, refund_create, refund_get
from monitoring.observability.clientip import client_ip
from monitoring.security.http import CooloffWriteThrottle
from monitoring.security.rules import api_client_source
from payments_site.kernel.idempotency import settled_answer
from payments_site.parameters import input_validate
from vault.authentication import request_merchant

CHARGE_EXAMPLE = {
    "id": "ch_3xq9ZbL0kq2rT8yWcN4vQa",
    "object": "charge",
    "livemode": False,
    "amount": 1999,
    "currency": "EUR",
    "status": "succeeded",
    "failure_code": None,
    "failure_message": None,
    "captured": True,
    "capture_method": "automatic",
    "amount_captured": 1999,
    "amount_capturable": 0,
    "authorization_expires_at": None,
    "amount_refunded": 0,
    "refunded": False,
    "token": "tok_5HkqP0x2GQw8sVnR1dLmZc",
    "payment_method_details": {
        "type": "card",
        "card": {
            "brand": "visa",
            "last4": "4242",
            "exp_month": 12,
            "exp_year": 2030,
            "fingerprint": "Xt5EWLLDS7FJjR1c",
        },
    },
    "subscription": None,
    "description": "Order #1042",
    "metadata": {"order_id": "1042"},
    "created": "2030-01-31T10:00:00Z",
}
AUTHORIZATION_EXAMPLE = {
    **CHARGE_EXAMPLE,
    "status": "requires_capture",
    "captured": False,
    "capture_method": "manual",
    "amount_captured": 0,
    "amount_capturable": 1999,
    "authorization_expires_at": "2030-02-07T10:00:00Z",
}
CAPTURED_EXAMPLE = {
    **AUTHORIZATION_EXAMPLE,
    "status": "succeeded",
    "captured": True,
    "amount_captured": 1500,
    "amount_capturable": 0,
}
ChargePageSerializer = page_serializer("ChargePage", ChargeOutputSerializer)
REFUND_EXAMPLE = {
    "id": "re_2Pq8ZrT0vWk3nYb6Xc1aLm",
    "object": "refund",
    "livemode": False,
    "charge": CHARGE_EXAMPLE["id"],
    "amount": 500,
    "currency": "EUR",
    "status": "succeeded",
    "failure_code": None,
    "reason": "damaged item",
    "metadata": {},
    "created": "2030-02-02T08:00:00Z",
}
RefundPageSerializer = page_serializer("RefundPage", RefundOutputSerializer)


# One instance, its fields built once: binding a serializer's fields anew for every answer
# cost more than rendering it.
_CHARGE = ChargeOutputSerializer()


def _charge_answer(charge: Charge) -> Response:
    code = status.HTTP_202_ACCEPTED if charge.status == Charge.Status.PENDING else 201
    return Response(_CHARGE.to_representation(charge), status=code)


def _charge_effect(request: Request, charge_id: str) -> Response:
    return _charge_answer(charge_get(merchant=request_merchant(request), charge_id=charge_id))


# The steps of an authorization: 202 while the processor's answer is outstanding.
STEP_IN_FLIGHT = (Charge.Status.CAPTURING, Charge.Status.RELEASING, Charge.Status.EXPIRING)


def _step_answer(charge: Charge) -> Response:
    code = status.HTTP_202_ACCEPTED if charge.status in STEP_IN_FLIGHT else status.HTTP_200_OK
    return Response(_CHARGE.to_representation(charge), status=code)


def _step_effect(request: Request, charge_id: str) -> Response:
    return _step_answer(charge_get(merchant=request_merchant(request), charge_id=charge_id))


def _refund_effect(request: Request, refund_id: str) -> Response:
    return _refund_answer(refund_get(merchant=request_merchant(request), refund_id=refund_id))


def _refund_answer(refund: Refund) -> Response:
    code = status.HTTP_202_ACCEPTED if refund.status == Refund.Status.PENDING else 201
    return Response(RefundOutputSerializer(refund).data, status=code)


class ChargeListCreateApi(APIView):
    # A client that card-tests through the API cools off (429, Retry-After) before its next
    # charge is even read; the per-key rate limit stays in force too.
    throttle_classes = [ApiKeyRateThrottle, CooloffWriteThrottle]

    @extend_schema_serializer(component_name="ChargeCreate")
    class InputSerializer(serializers.Serializer[Any]):
        token = serializers.CharField(max_length=40, help_text="A `tok_…` id of this merchant.")
        amount = serializers.IntegerField(
            min_value=1,
            max_value=settings.CHARGE_MAX_AMOUNT,
            help_text="Positive integer in the currency's minor unit (cents, yen, fils).",
        )
        currency = serializers.RegexField(
            r"^[A-Za-z]{3}$", help_text="ISO 4217 code, e.g. EUR, USD, JPY."
        )
        description = serializers.CharField(max_length=500, required=False, allow_blank=True)
        metadata = MetadataField(required=False)
        capture = serializers.BooleanField(
            required=False,
            default=True,
            help_text="`false`: authorise only (`requires_capture`); capture within "
            "`AUTHORIZATION_TTL_HOURS` (default 168) with `POST /api/v1/charges/{id}/capture`.",
        )

    @extend_schema_serializer(component_name="ChargeFilter")
    class FilterSerializer(PageParamsSerializer):
        token = serializers.CharField(max_length=40, required=False)
        status = serializers.ChoiceField(choices=Charge.Status.choices, required=False)
        subscription = serializers.CharField(max_length=40, required=False)
        created_gte = serializers.DateTimeField(required=False)
        created_lte = serializers.DateTimeField(required=False)

    @extend_schema(
        operation_id="charges_list",
        summary="List charges",
        parameters=[FilterSerializer],
        responses={200: ChargePageSerializer, **problem_responses(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        merchant = request_merchant(request)
        page = list_page(request, self.FilterSerializer, partial(charge_list, merchant=merchant))
        return Response(page_response(page, ChargeOutputSerializer))

    @extend_schema(
        operation_id="charges_create",
        summary="Charge a token",
        description=(
            "Charges a stored token now. `201` with `status` `succeeded`, or `failed` and a "
            "`failure_code` (card_declined, insufficient_funds, …); `202` with `status` "
            "`pending` when the processor's answer was lost — it is settled by reconciliation, "
            "never charged twice. With `capture: false` the card is only authorised: "
            "`requires_capture` with `amount_capturable` and `authorization_expires_at`."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: ChargeOutputSerializer,
            202: ChargeOutputSerializer,
            **problem_responses(400, 401, 403, 409, 422, 429),
        },
        examples=[
            OpenApiExample(
                "charge",
                value={
                    "token": CHARGE_EXAMPLE["token"],
                    "amount": 1999,
                    "currency": "EUR",
                    "description": "Order #1042",
                    "metadata": {"order_id": "1042"},
                },
                request_only=True,
            ),
            OpenApiExample(
                "authorize only",
                value={
                    "token": CHARGE_EXAMPLE["token"],
                    "amount": 1999,
                    "currency": "EUR",
                    "capture": False,
                },
                request_only=True,
            ),
            OpenApiExample(
                "succeeded", value=CHARGE_EXAMPLE, response_only=True, status_codes=["201"]
            ),
            OpenApiExample(
                "authorised", value=AUTHORIZATION_EXAMPLE, response_only=True, status_codes=["201"]
            ),
        ],
    )
    @idempotent(effect=_charge_effect, answer=_charge_answer, claim_with_effect=True)
    def post(self, request: Request) -> Response:
        data = input_validate(self.InputSerializer, request.data)
        merchant = request_merchant(request)
        charge = charge_create(
            merchant=merchant,
            token_id=data["token"],
            amount=data["amount"],
            currency=data["currency"],
            description=data.get("description", ""),
            metadata=data.get("metadata"),
            capture=data["capture"],
            idempotency_key=request.headers.get(HEADER),  # validated by @idempotent
            api_client=api_client_source(merchant_id=merchant.pk, ip=client_ip(request._request)),
        )
        return settled_answer(charge, _charge_answer)


class ChargeDetailApi(APIView):
    @extend_schema(
        operation_id="charges_retrieve",
        summary="Retrieve a charge",
        responses={200: ChargeOutputSerializer, **problem_responses(401, 404, 429)},
        examples=[OpenApiExample("charge", value=CHARGE_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, charge_id: str) -> Response:
        charge = charge_get(merchant=request_merchant(request), charge_id=charge_id)
        return Response(ChargeOutputSerializer(charge).data)


class RefundCreateApi(APIView):
    @extend_schema_serializer(component_name="RefundCreate")
    class InputSerializer(serializers.Serializer[Any]):
        amount = serializers.IntegerField(
            min_value=1,
            max_value=settings.CHARGE_MAX_AMOUNT,
            required=False,
            help_text="Minor units; default: everything not refunded yet.",
        )
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True)
        metadata = MetadataField(required=False)

    @extend_schema(
        operation_id="charges_refunds_create",
        summary="Refund a charge",
        description=(
            "Full or partial; the total refunded never exceeds what was captured. `201` once "
            "the processor answered; `202` with `status` `pending` when its answer was lost "
            "(reconciled) or comes later (Adyen: its notification settles it; "
            "`refund.succeeded` or `refund.failed` tells you)."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: RefundOutputSerializer,
            202: RefundOutputSerializer,
            **problem_responses(400, 401, 403, 404, 409, 422, 429),
        },
        examples=[
            OpenApiExample(
                "partial", value={"amount": 500, "reason": "damaged item"}, request_only=True
            ),
            OpenApiExample(
                "refunded",
                value=REFUND_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    @idempotent(effect=_refund_effect, answer=_refund_answer, claim_with_effect=True)
    def post(self, request: Request, charge_id: str) -> Response:
        data = input_validate(self.InputSerializer, request.data)
        refund = refund_create(
            merchant=request_merchant(request),
            charge_id=charge_id,
            amount=data.get("amount"),
            reason=data.get("reason", ""),
            metadata=data.get("metadata"),
        )
        return settled_answer(refund, _refund_answer)


class RefundListApi(APIView):
    @extend_schema_serializer(component_name="RefundFilter")
    class FilterSerializer(PageParamsSerializer):
        charge = serializers.CharField(
            max_length=40, required=False, help_text="Only the refunds of this `ch_…` charge."
        )
        status = serializers.ChoiceField(choices=Refund.Status.choices, required=False)
        created_gte = serializers.DateTimeField(required=False)
        created_lte = serializers.DateTimeField(required=False)

    @extend_schema(
        operation_id="refunds_list",
        summary="List refunds",
        description="Every refund of every charge, newest first.",
        parameters=[FilterSerializer],
        responses={200: RefundPageSerializer, **problem_responses(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        merchant = request_merchant(request)
        page = list_page(request, self.FilterSerializer, partial(refund_list, merchant=merchant))
        return Response(page_response(page, RefundOutputSerializer))


class RefundDetailApi(APIView):
    @extend_schema(
        operation_id="refunds_retrieve",
        summary="Retrieve a refund",
        responses={200: RefundOutputSerializer, **problem_responses(401, 404, 429)},
        examples=[OpenApiExample("refund", value=REFUND_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, refund_id: str) -> Response:
        refund = refund_get(merchant=request_merchant(request), refund_id=refund_id)
        return Response(RefundOutputSerializer(refund).data)


class ChargeCaptureApi(APIView):
    @extend_schema_serializer(component_name="ChargeCapture")
    class InputSerializer(serializers.Serializer[Any]):
        amount = serializers.IntegerField(
            min_value=1,
            max_value=settings.CHARGE_MAX_AMOUNT,
            required=False,
            help_text="Minor units, at most what is authorised; default: all of it. The rest "
            "is released.",
        )

    @extend_schema(
        operation_id="charges_capture",
        summary="Capture an authorization",
        description=(
            "Captures all or part of a `requires_capture` charge, once; what is not captured "
            "is released. `200` with `status` `succeeded` (or `failed` when the card refuses "
            "the capture); `202` with `status` `capturing` when the processor's answer was "
            "lost — reconciliation finishes it, never capturing twice — or the processor "
            "confirms captures later (Adyen: its notification ends it; `charge.captured` "
            "or `charge.failed` tells you). `409` "
            "`charge_not_capturable` (code `charge_already_captured`, "
            "`charge_capture_in_progress`, `charge_released`, `authorization_expired`, …)."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: ChargeOutputSerializer,
            202: ChargeOutputSerializer,
            **problem_responses(400, 401, 403, 404, 409, 422, 429),
        },
        examples=[
            OpenApiExample("partial", value={"amount": 1500}, request_only=True),
            OpenApiExample(
                "captured", value=CAPTURED_EXAMPLE, response_only=True, status_codes=["200"]
            ),
        ],
    )
    @idempotent(effect=_step_effect)
    def post(self, request: Request, charge_id: str) -> Response:
        data = input_validate(self.InputSerializer, request.data)
        charge = charge_capture(
            merchant=request_merchant(request),
            charge_id=charge_id,
            amount=data.get("amount"),
        )
        return _step_answer(charge)


class ChargeReleaseApi(APIView):
    @extend_schema_serializer(component_name="ChargeRelease")
    class InputSerializer(serializers.Serializer[Any]):
        pass

    @extend_schema(
        operation_id="charges_release",
        summary="Release an authorization",
        description=(
            "Voids a `requires_capture` charge: the held funds are released and it can no "
            "longer be captured. `200` with `status` `released`; `202` `releasing` when the "
            "processor's answer was lost (reconciled) or comes later (Adyen: its notification "
            "ends it). `409` `charge_not_capturable` when it "
            "was captured, released or expired already."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: ChargeOutputSerializer,
            202: ChargeOutputSerializer,
            **problem_responses(400, 401, 403, 404, 409, 422, 429),
        },
        examples=[
            OpenApiExample(
                "released",
                value={
                    **AUTHORIZATION_EXAMPLE,
                    "status": "released",
                    "amount_capturable": 0,
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    @idempotent(effect=_step_effect)
    def post(self, request: Request, charge_id: str) -> Response:
        input_validate(self.InputSerializer, request.data)
        return _step_answer(charge_release(merchant=request_merchant(request), charge_id=charge_id))
