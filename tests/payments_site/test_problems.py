"""The API error shape for validation errors, domain errors and unexpected exceptions."""

from __future__ import annotations

import pytest
from django.urls import path
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from payments_site.kernel.errors import DomainError, FieldError
from payments_site.problems import DRF_CODES, PROBLEMS, Problem


class Teapot(DomainError):
    code = "teapot"


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
            retry_after=5,
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


def test_domain_error_carries_code_fields_and_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROBLEMS, "teapot", Problem(418, "I'm a teapot"))

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


def _project_error_classes() -> list[type[DomainError]]:
    import importlib
    import pkgutil

    for package in ("checkout", "vault", "monitoring", "payments_site"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            skipped = (".migrations", ".settings", "gunicorn_conf", "wsgi")
            if not any(part in info.name for part in skipped):
                importlib.import_module(info.name)
    found: list[type[DomainError]] = []
    pending = [DomainError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return [c for c in found if not c.__module__.startswith("tests.")]


def test_every_domain_error_has_its_row_in_the_problem_table() -> None:
    classes = _project_error_classes()

    missing = [c.__qualname__ for c in classes if (c.problem or c.code) not in PROBLEMS]
    assert len(classes) > 30
    assert missing == []


@pytest.mark.parametrize("drf_class", list(DRF_CODES))
def test_drf_errors_answer_the_status_their_row_names(drf_class: type[APIException]) -> None:
    assert PROBLEMS[DRF_CODES[drf_class]].status == drf_class.status_code
