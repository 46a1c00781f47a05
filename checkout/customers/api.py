"""``/api/v1/customers``: customers, their saved cards and the default card."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db.models import QuerySet
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
from checkout.customers.errors import CustomerCardNotFound
from checkout.customers.models import CustomerCard
from checkout.customers.selectors import customer_cards, customer_list
from checkout.customers.serializers import CustomerCardOutputSerializer, CustomerOutputSerializer
from checkout.customers.services import (
    customer_card_attach,
    customer_card_detach,
    customer_create,
    customer_delete,
    customer_get,
    customer_update,
)
from checkout.payments.idempotency.api import IDEMPOTENCY_PARAMETER, idempotent
from payments_site.parameters import input_validate
from vault.authentication import request_api_key, request_merchant

CUSTOMER_EXAMPLE: dict[str, Any] = {
    "id": "cus_3Fq9Lm2XcVb8Nw1Tz6RkPa",
    "object": "customer",
    "livemode": False,
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "description": "",
    "metadata": {"account": "A-1042"},
    "default_token": "tok_5HkqP0x2GQw8sVnR1dLmZc",
    "created": "2030-01-30T09:12:44Z",
    "deleted": False,
}
CARD_EXAMPLE: dict[str, Any] = {
    "id": "tok_5HkqP0x2GQw8sVnR1dLmZc",
    "object": "customer_card",
    "livemode": False,
    "customer": CUSTOMER_EXAMPLE["id"],
    "default": True,
    "brand": "visa",
    "last4": "4242",
    "exp_month": 12,
    "exp_year": 2030,
    "fingerprint": "Yq0rT4…",
    "expired": False,
    "created": "2030-01-30T09:13:02Z",
    "detached_at": None,
}

CustomerPageSerializer = page_serializer("CustomerPage", CustomerOutputSerializer)
CustomerCardPageSerializer = page_serializer("CustomerCardPage", CustomerCardOutputSerializer)


def _actor(request: Request) -> str:
    return f"api_key:{request_api_key(request).id}"


def _customer_answer(request: Request, customer_id: str, status: int = 200) -> Response:
    customer = customer_get(merchant=request_merchant(request), customer_id=customer_id)
    return Response(CustomerOutputSerializer(customer).data, status=status)


def _created_effect(request: Request, customer_id: str) -> Response:
    return _customer_answer(request, customer_id, 201)


def _card_effect(request: Request, token_id: str) -> Response:
    """An attach or detach made already: the card, 201 if the request's token was saved."""
    card = (
        CustomerCard.objects.owned_by(request_merchant(request))
        .select_related("token")
        .filter(token_id=token_id)
        .first()
    )
    if card is None:
        raise CustomerCardNotFound()
    body = request.data if isinstance(request.data, dict) else {}
    created = request.method == "POST" and body.get("token") == token_id
    return Response(CustomerCardOutputSerializer(card).data, status=201 if created else 200)


class CustomerListCreateApi(APIView):
    @extend_schema_serializer(component_name="CustomerCreate")
    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=256, required=False, allow_blank=True)
        email = serializers.EmailField(
            max_length=254,
            required=False,
            allow_blank=True,
            help_text="Personal data: never logged, masked in the admin list.",
        )
        description = serializers.CharField(max_length=500, required=False, allow_blank=True)
        metadata = MetadataField(required=False)

    @extend_schema_serializer(component_name="CustomerFilter")
    class FilterSerializer(PageParamsSerializer):
        created_gte = serializers.DateTimeField(required=False)
        created_lte = serializers.DateTimeField(required=False)

    @extend_schema(
        operation_id="customers_list",
        summary="List customers",
        description="Newest first; deleted customers are not listed.",
        parameters=[FilterSerializer],
        responses={200: CustomerPageSerializer, **problem_responses(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        query = partial(customer_list, merchant=request_merchant(request))
        page = list_page(request, self.FilterSerializer, query)
        return Response(page_response(page, CustomerOutputSerializer))

    @extend_schema(
        operation_id="customers_create",
        summary="Create a customer",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: CustomerOutputSerializer, **problem_responses(400, 401, 409, 422, 429)},
        examples=[
            OpenApiExample(
                "customer",
                value={"name": "Ada Lovelace", "email": "ada@example.com"},
                request_only=True,
            ),
            OpenApiExample(
                "created",
                value={**CUSTOMER_EXAMPLE, "default_token": None},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    @idempotent(effect=_created_effect)
    def post(self, request: Request) -> Response:
        data = input_validate(self.InputSerializer, request.data)
        customer = customer_create(
            merchant=request_merchant(request),
            actor=_actor(request),
            name=data.get("name", ""),
            email=data.get("email", ""),
            description=data.get("description", ""),
            metadata=data.get("metadata"),
        )
        return Response(CustomerOutputSerializer(customer).data, status=201)


class CustomerDetailApi(APIView):
    @extend_schema_serializer(component_name="CustomerUpdate")
    class UpdateSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=256, required=False, allow_blank=True)
        email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
        description = serializers.CharField(max_length=500, required=False, allow_blank=True)
        metadata = MetadataField(
            required=False, help_text="Merged: each key given is set; an empty value removes it."
        )
        default_token = serializers.CharField(
            max_length=40,
            required=False,
            help_text="One of the customer's cards (`tok_…`); renewals charge it from the next.",
        )

    @extend_schema(
        operation_id="customers_retrieve",
        summary="Retrieve a customer",
        description="A deleted customer answers with `deleted: true` and its data erased.",
        responses={200: CustomerOutputSerializer, **problem_responses(401, 404, 429)},
    )
    def get(self, request: Request, customer_id: str) -> Response:
        return _customer_answer(request, customer_id)

    @extend_schema(
        operation_id="customers_update",
        summary="Update a customer, or choose its default card",
        request=UpdateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: CustomerOutputSerializer,
            **problem_responses(400, 401, 404, 409, 422, 429),
        },
    )
    @idempotent(effect=_customer_answer)
    def post(self, request: Request, customer_id: str) -> Response:
        data = input_validate(self.UpdateSerializer, request.data)
        customer = customer_update(
            merchant=request_merchant(request),
            customer_id=customer_id,
            actor=_actor(request),
            name=data.get("name"),
            email=data.get("email"),
            description=data.get("description"),
            metadata=data.get("metadata"),
            default_token=data.get("default_token"),
        )
        return Response(CustomerOutputSerializer(customer).data)

    @extend_schema(
        operation_id="customers_delete",
        summary="Delete a customer",
        description=(
            "Erases its name, email, description and metadata, detaches and revokes every "
            "saved card (the card data is destroyed) and cancels its subscriptions. The "
            "customer stays readable with `deleted: true`; deleting it again changes nothing."
        ),
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: CustomerOutputSerializer, **problem_responses(401, 404, 429)},
    )
    @idempotent(effect=_customer_answer)
    def delete(self, request: Request, customer_id: str) -> Response:
        customer = customer_delete(
            merchant=request_merchant(request), customer_id=customer_id, actor=_actor(request)
        )
        return Response(CustomerOutputSerializer(customer).data)


class CustomerCardListAttachApi(APIView):
    @extend_schema_serializer(component_name="CustomerCardAttach")
    class AttachSerializer(serializers.Serializer[Any]):
        token = serializers.CharField(max_length=40, help_text="An active token (`tok_…`).")
        default = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Make it the default card (a customer without one gets it anyway).",
        )

    @extend_schema_serializer(component_name="CustomerCardFilter")
    class FilterSerializer(PageParamsSerializer):
        """Paging only: a customer's cards take no filter."""

    @extend_schema(
        operation_id="customers_cards_list",
        summary="List a customer's saved cards",
        description=(
            "Attached cards, most recently saved first: one per card, however often it was "
            "saved. Cursors are the cards' token ids."
        ),
        parameters=[FilterSerializer],
        responses={200: CustomerCardPageSerializer, **problem_responses(400, 401, 404, 429)},
    )
    def get(self, request: Request, customer_id: str) -> Response:
        merchant = request_merchant(request)

        def cards() -> QuerySet[CustomerCard]:
            # Read once the query string is valid: a bad parameter is a 400 for any customer.
            return customer_cards(customer=customer_get(merchant=merchant, customer_id=customer_id))

        page = list_page(request, self.FilterSerializer, cards, by="attached_at")
        return Response(page_response(page, CustomerCardOutputSerializer))

    @extend_schema(
        operation_id="customers_cards_attach",
        summary="Save a token to a customer",
        description=(
            "201 with the card when the token is saved; 200 with the card saved before when "
            "the customer has this card already (the same fingerprint, under any token)."
        ),
        request=AttachSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: CustomerCardOutputSerializer,
            201: CustomerCardOutputSerializer,
            **problem_responses(400, 401, 404, 409, 422, 429),
        },
        examples=[
            OpenApiExample(
                "attach", value={"token": CARD_EXAMPLE["id"], "default": True}, request_only=True
            ),
            OpenApiExample("saved", value=CARD_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    @idempotent(effect=_card_effect)
    def post(self, request: Request, customer_id: str) -> Response:
        data = input_validate(self.AttachSerializer, request.data)
        attached = customer_card_attach(
            merchant=request_merchant(request),
            customer_id=customer_id,
            token_id=data["token"],
            default=data["default"],
            actor=_actor(request),
        )
        status = 201 if attached.created else 200
        return Response(CustomerCardOutputSerializer(attached.card).data, status=status)


class CustomerCardDetailApi(APIView):
    @extend_schema(
        operation_id="customers_cards_detach",
        summary="Detach a saved card (revokes its token)",
        description=(
            "The token is revoked and its card data destroyed, as a detached card can never "
            "be used again; the customer keeps no default if it was the default."
        ),
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: CustomerCardOutputSerializer, **problem_responses(401, 404, 429)},
    )
    @idempotent(effect=_card_effect)
    def delete(self, request: Request, customer_id: str, token_id: str) -> Response:
        card = customer_card_detach(
            merchant=request_merchant(request),
            customer_id=customer_id,
            token_id=token_id,
            actor=_actor(request),
        )
        return Response(CustomerCardOutputSerializer(card).data)
