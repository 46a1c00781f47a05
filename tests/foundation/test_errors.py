"""The API error shape for validation errors, domain errors and unexpected exceptions."""

from __future__ import annotations

import pytest
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from payments_site.problems import FieldError, ProblemError


class Teapot(ProblemError):
    status = 418
    code = "teapot"
    title = "I'm a teapot"


class Boom(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret internals 4242424242424242")


class Domain(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request: Request) -> Response:
        raise Teapot(
            "Short and stout.",
            errors=[FieldError("spout", "bent", "Bent spout.")],
            headers={"Retry-After": "5"},
        )


class Validate(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    class InputSerializer(serializers.Serializer[dict[str, object]]):
        amount = serializers.IntegerField(min_value=1)
        currency = serializers.CharField(max_length=3)

    def post(self, request: Request) -> Response:
        self.InputSerializer(data=request.data).is_valid(raise_exception=True)
        return Response({})


urlpatterns = [
    path("api/v1/boom", Boom.as_view()),
    path("api/v1/domain", Domain.as_view()),
    path("api/v1/validate", Validate.as_view()),
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def test_unexpected_exception_is_a_generic_500_without_internals() -> None:
    client = APIClient(raise_request_exception=False)

    response = client.get("/api/v1/boom", HTTP_X_REQUEST_ID="r-1")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "internal_error"
    assert body["request_id"] == "r-1"
    assert "secret" not in response.content.decode() and "4242" not in response.content.decode()


def test_domain_error_carries_code_fields_and_headers() -> None:
    response = APIClient().get("/api/v1/domain")

    assert response.status_code == 418
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "type": "https://docs.tessera.dev/problems/teapot",
        "title": "I'm a teapot",
        "status": 418,
        "detail": "Short and stout.",
        "code": "teapot",
        "errors": [{"field": "spout", "code": "bent", "message": "Bent spout."}],
        "instance": "/api/v1/domain",
        "request_id": response["X-Request-ID"],
    }


def test_validation_errors_are_flat_field_errors() -> None:
    response = APIClient().post("/api/v1/validate", {"amount": 0}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert sorted(body["errors"], key=lambda e: e["field"]) == [
        {
            "field": "amount",
            "code": "min_value",
            "message": "Ensure this value is greater than or equal to 1.",
        },
        {"field": "currency", "code": "required", "message": "This field is required."},
    ]


def test_malformed_json_is_400_problem() -> None:
    response = APIClient().post("/api/v1/validate", "{nope", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_wrong_content_type_is_415_problem() -> None:
    response = APIClient().post("/api/v1/validate", "a=b", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
