"""Pieces shared by the checkout API views: pagination, problem schema, common parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from payments_site.kernel.errors import InvalidInput
from payments_site.kernel.metadata import metadata_validate
from payments_site.kernel.pagination import (
    MAX_PAGE,
    Page,
    PageParamsSerializer,
    keyset_page,
    page_params,
)
from payments_site.parameters import input_validate
from payments_site.problems import PROBLEM_CONTENT_TYPE

__all__ = ["MAX_PAGE", "Page", "PageParamsSerializer", "keyset_page", "list_page"]

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Up to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID. Retrying with the same "
        "key and body replays the first answer (`Idempotent-Replayed: true`); a different body "
        "is refused with 422; a retry while the first is still running gets 409. Keys are kept "
        "at least 24 hours. A request that died after its effect was committed, retried with "
        "the same key, answers with that effect and makes no second one."
    ),
    examples=[OpenApiExample("uuid", value="8e03978e-40d5-43e8-bc93-6894a57f9324")],
)


def list_page(
    request: Request,
    filters: type[PageParamsSerializer],
    query: Callable[..., QuerySet[Any]],
    *,
    by: str = "created_at",
) -> Page:
    """One page of ``query(**filters)``, newest ``by`` first: every list endpoint validates its
    query string the same way (an unknown value is a 400 naming the parameter) and pages the
    same way."""
    params = input_validate(filters, request.query_params)
    values, paging = page_params(params)
    return keyset_page(query(**values), **paging, by=by)


class FieldErrorSerializer(serializers.Serializer[Any]):
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer[Any]):
    """RFC 9457 problem details, as every error leaves the API."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = FieldErrorSerializer(many=True, required=False)  # type: ignore[assignment]
    instance = serializers.CharField(required=False)
    request_id = serializers.CharField(required=False)


def problem(description: str, *examples: OpenApiExample) -> OpenApiResponse:
    return OpenApiResponse(ProblemSerializer, description=description, examples=list(examples))


def problem_example(
    code: str, status: int, title: str, detail: str, **extra: Any
) -> OpenApiExample:
    value = {
        "type": f"{settings.PROBLEM_TYPE_BASE}{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return OpenApiExample(code, value=value, response_only=True, status_codes=[str(status)])


def problem_responses(*statuses: int) -> dict[Any, OpenApiResponse]:
    """Documented error answers, in the problem+json media type."""
    catalogue = {
        400: problem(
            "Invalid input: `parameter_unknown` (not declared here; never ignored), "
            "`parameter_invalid_type`, `validation_error`, `invalid_idempotency_key`, "
            "`invalid_currency`…",
            problem_example(
                "validation_error",
                400,
                "The request is not valid",
                "Ensure this value is greater than or equal to 1.",
                errors=[
                    {
                        "field": "amount",
                        "code": "min_value",
                        "message": "Ensure this value is greater than or equal to 1.",
                    }
                ],
            ),
        ),
        401: problem("Missing or invalid API key."),
        403: problem(
            "Refused in this mode: `live_mode_unavailable` (a live key, and no live processor "
            "is configured; nothing was stored).",
            problem_example(
                "live_mode_unavailable",
                403,
                "Live mode is not available",
                "Live mode is not available on this deployment: no live payment processor is "
                "configured. Use a test key, or ask the operator to set PROCESSOR_LIVE.",
            ),
        ),
        404: problem("No such object for this merchant."),
        409: problem(
            "A request with the same Idempotency-Key is still running (`idempotency_key_in_use`).",
            problem_example(
                "idempotency_key_in_use",
                409,
                "A request with this idempotency key is still in progress",
                "Another request with this Idempotency-Key is still running. Retry shortly.",
            ),
        ),
        422: problem(
            "Understood but refused: `token_not_found`, `token_revoked`, `token_expired`, "
            "`idempotency_key_reused`, `refund_amount_too_large`…",
            problem_example(
                "token_revoked",
                422,
                "The token cannot be charged",
                "This token has been revoked and can no longer be charged.",
                errors=[
                    {
                        "field": "token",
                        "code": "token_revoked",
                        "message": "This token has been revoked and can no longer be charged.",
                    }
                ],
            ),
        ),
        429: problem("Too many requests for this API key; see Retry-After."),
    }
    return {(status, PROBLEM_CONTENT_TYPE): catalogue[status] for status in statuses}


class MetadataField(serializers.DictField):
    """Up to 50 string pairs (keys ≤ 40 characters, values ≤ 500) for the merchant's own use,
    checked by the one metadata validator every object shares."""

    child = serializers.CharField(allow_blank=True, trim_whitespace=False)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        value: dict[str, str] = super().to_internal_value(data)
        try:
            return metadata_validate(value, field=self.field_name or "metadata")
        except InvalidInput as exc:
            raise ValidationError(exc.message, code=exc.errors[0].code) from exc


def page_serializer(
    name: str, item: type[serializers.Serializer[Any]]
) -> type[serializers.Serializer[Any]]:
    """The schema of a list page of ``item``: ``{"object": "list", "data": [...], "has_more"}``."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "object": serializers.ChoiceField(choices=["list"]),
            "data": item(many=True),
            "has_more": serializers.BooleanField(),
        },
    )


def page_response(
    page: Page, item: type[serializers.Serializer[Any]], context: dict[str, Any] | None = None
) -> dict[str, Any]:
    data = item(page.items, many=True, context=context or {}).data
    return {"object": "list", "data": data, "has_more": page.has_more}
