"""RFC 9457 problem details for every API error.

Domain code raises ``ProblemError`` subclasses (a machine code, a human message, optional field
errors); DRF's own exceptions and Django's 404/500 are mapped here too, so a merchant's client
sees one error shape everywhere. A shared service that does not answer (``DEPENDENCY_ERRORS``)
becomes a 503 with Retry-After. Unknown exceptions become a generic 500 whose body names
nothing internal; the details go to the (redacted) log with the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"

# A shared service that does not answer (Redis: counters, cool-offs, throttles). Requests that
# need it are refused with 503 + Retry-After — the client's cue to retry, and nothing is done
# without the limits that guard it — rather than a 500 that reads like our bug.
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (RedisError,)
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class FieldError:
    """One invalid input: which field, a stable code and a message fit to show a person."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": str(self.message)}


class ProblemError(Exception):
    """Base of every domain error that reaches an API client.

    Subclasses set ``status`` and ``code``; the message is safe to show (never card data).
    """

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.code = code or self.code
        self.message = str(message or self.title)
        self.errors = list(errors)
        self.headers = dict(headers or {})
        super().__init__(self.message)


class ValidationProblem(ProblemError):
    status = 400
    code = "validation_error"
    title = "The request is not valid"


class ServiceUnavailable(ProblemError):
    status = 503
    code = "service_unavailable"
    title = "Service temporarily unavailable"


def problem_body(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: Sequence[FieldError] = (),
    request: HttpRequest | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"{settings.PROBLEM_TYPE_BASE}{code}",
        "title": str(title),
        "status": status,
        "detail": str(detail),
        "code": code,
    }
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    if request is not None:
        body["instance"] = request.path
        request_id = getattr(request, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    return body


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: Sequence[FieldError] = (),
    request: HttpRequest | None = None,
    headers: Mapping[str, str] | None = None,
) -> JsonResponse:
    """A problem+json response for plain Django views (health checks, the vault ingest)."""
    body = problem_body(
        status=status, code=code, title=title, detail=detail, errors=errors, request=request
    )
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _flatten(detail: Any, prefix: str = "") -> list[FieldError]:
    """DRF's nested ``ErrorDetail`` structure → a flat list with dotted field paths."""
    out: list[FieldError] = []
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            out += _flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, Mapping | list) and not _is_leaf_list(value):
                out += _flatten(value, f"{prefix}[{index}]")
            else:
                out += _flatten(value, prefix)
    else:
        code = getattr(detail, "code", None) or "invalid"
        out.append(FieldError(field=prefix or "non_field_errors", code=code, message=str(detail)))
    return out


def _is_leaf_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# DRF exception → (code, title) for the problem body.
_DRF_CODES: dict[type[drf_exceptions.APIException], tuple[str, str]] = {
    drf_exceptions.ParseError: ("malformed_request", "The request body could not be parsed"),
    drf_exceptions.AuthenticationFailed: ("authentication_failed", "Authentication failed"),
    drf_exceptions.NotAuthenticated: ("authentication_required", "Authentication required"),
    drf_exceptions.PermissionDenied: ("permission_denied", "Permission denied"),
    drf_exceptions.NotFound: ("not_found", "Not found"),
    drf_exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    drf_exceptions.NotAcceptable: ("not_acceptable", "Not acceptable"),
    drf_exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    drf_exceptions.Throttled: ("rate_limited", "Too many requests"),
}


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """DRF ``EXCEPTION_HANDLER``: every error leaves as problem+json."""
    request = context.get("request")
    django_request = getattr(request, "_request", request)

    if isinstance(exc, DEPENDENCY_ERRORS):
        exc = dependency_unavailable(exc)
    if isinstance(exc, ProblemError):
        body = problem_body(
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.message,
            errors=exc.errors,
            request=django_request,
        )
        return _response(body, exc.status, exc.headers)

    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE while DRF parses it: the
        # client's mistake, so a 413 problem rather than a 500.
        body = problem_body(
            status=413,
            code="request_too_large",
            title="Request body too large",
            detail="The request body is larger than this API accepts.",
            request=django_request,
        )
        return _response(body, 413)

    if isinstance(exc, drf_exceptions.ValidationError):
        errors = _flatten(exc.detail)
        body = problem_body(
            status=400,
            code="validation_error",
            title=ValidationProblem.title,
            detail=errors[0].message if len(errors) == 1 else str(_("Some fields are not valid.")),
            errors=errors,
            request=django_request,
        )
        return _response(body, 400)

    if isinstance(exc, drf_exceptions.APIException):
        code, title = next(
            (v for k, v in _DRF_CODES.items() if isinstance(exc, k)),
            (exc.default_code, str(exc.default_detail)),
        )
        headers: dict[str, str] = {}
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(int(wait) + (wait % 1 > 0))
        detail = exc.detail if isinstance(exc.detail, str) else title
        body = problem_body(
            status=exc.status_code, code=code, title=title, detail=detail, request=django_request
        )
        return _response(body, exc.status_code, headers)

    logger.exception("unhandled_api_error")
    body = problem_body(
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="Something went wrong on our side. The request id lets support find it.",
        request=django_request,
    )
    return _response(body, 500)


def dependency_unavailable(exc: Exception) -> ServiceUnavailable:
    """Log a dependency failure (its type only) and the 503 problem that answers it."""
    logger.warning("dependency_unavailable", extra={"error": type(exc).__name__})
    return ServiceUnavailable(
        str(_("A service this request needs is not answering. Try again in a few seconds.")),
        headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
    )


def _response(
    body: dict[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    response = Response(body, status=status, headers=dict(headers or {}))
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _wants_problem(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/vault/"))


def _html_or_problem(request: HttpRequest, status: int, code: str, title: str) -> HttpResponse:
    from django.views import defaults

    if _wants_problem(request):
        return problem_response(
            status=status, code=code, title=title, detail=title, request=request
        )
    handlers = {
        400: defaults.bad_request,
        403: defaults.permission_denied,
        404: defaults.page_not_found,
    }
    if status == 500:
        return defaults.server_error(request)
    return handlers[status](request, exception=Exception())


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _html_or_problem(request, 400, "bad_request", "Bad request")


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _html_or_problem(request, 403, "permission_denied", "Permission denied")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _html_or_problem(request, 404, "not_found", "Not found")


def handler500(request: HttpRequest) -> HttpResponse:
    return _html_or_problem(request, 500, "internal_error", "Internal server error")
