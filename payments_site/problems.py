"""RFC 9457 problem details for every error a client sees, from one table.

Domain errors (``payments_site.kernel.errors.DomainError``) carry a code, a message and the
field at fault, and nothing about HTTP. ``PROBLEMS`` below maps each error's code (or, where
several codes of one kind share a row, its ``problem``) to a status and a title; the problem
``type`` is ``PROBLEM_TYPE_BASE`` + the code. DRF's exception handler, the plain views and the
middleware all render through it, so a merchant's client sees one error shape everywhere.

A shared service that does not answer (``DEPENDENCY_ERRORS``) becomes a 503 with Retry-After.
Unknown exceptions become a generic 500 whose body names nothing internal; the details go to
the (redacted) log with the request id. This module imports no app: every API module may use
it, and it depends on none of them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from payments_site.kernel.errors import (
    DEPENDENCY_ERRORS,
    DomainError,
    FieldError,
    ServiceUnavailable,
)

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Problem:
    """How one kind of error leaves the API: its status, its title, and headers it always
    carries."""

    status: int
    title: str
    headers: Mapping[str, str] = field(default_factory=dict)


# Error code (or ``DomainError.problem``) → status and title. The problem type URI is
# ``PROBLEM_TYPE_BASE`` + the error's code.
PROBLEMS: dict[str, Problem] = {
    # Requests in general (DRF, Django, the middleware).
    "bad_request": Problem(400, "Bad request"),
    "validation_error": Problem(400, "The request is not valid"),
    "malformed_request": Problem(400, "The request body could not be parsed"),
    "json_too_deep": Problem(400, "The JSON is nested too deeply"),
    "card_data_not_allowed": Problem(400, "Card data is not allowed here"),
    "malformed_url": Problem(400, "Malformed request"),
    "parameter_unknown": Problem(400, "Unknown parameter"),
    "parameter_invalid_type": Problem(400, "Parameter of the wrong type"),
    "authentication_failed": Problem(401, "Authentication failed"),
    "authentication_required": Problem(401, "Authentication required"),
    "permission_denied": Problem(403, "Permission denied"),
    "not_found": Problem(404, "Not found"),
    "method_not_allowed": Problem(405, "Method not allowed"),
    "not_acceptable": Problem(406, "Not acceptable"),
    "request_too_large": Problem(413, "Request body too large"),
    "unsupported_media_type": Problem(415, "Unsupported media type"),
    "rate_limited": Problem(429, "Too many requests"),
    "internal_error": Problem(500, "Internal server error"),
    "service_unavailable": Problem(
        503, "Service temporarily unavailable", {"Cache-Control": "no-store"}
    ),
    # Vault: tokens, merchants, keys.
    "invalid_card": Problem(422, "The card is not valid"),
    "token_not_found": Problem(404, "No such token"),
    "token_revoked": Problem(410, "Token revoked"),
    "token_expired": Problem(410, "Token expired"),
    "merchant_inactive": Problem(403, "Merchant inactive"),
    "merchant_suspended": Problem(403, "Merchant suspended"),
    "invalid_reason": Problem(400, "A reason is required"),
    "key_version_in_use": Problem(409, "Key version still in use"),
    "key_service_unavailable": Problem(503, "Key service unavailable"),
    "decryption_failed": Problem(422, "Decryption failed"),
    "unknown_key": Problem(422, "Unknown key"),
    # Vault ingest: the card token's refusals, by kind.
    "card_token_malformed": Problem(400, "Malformed card token"),
    "card_token_refused": Problem(401, "Card token refused"),
    "card_token_replayed": Problem(409, "Card token already used"),
    "card_token_too_large": Problem(413, "Card token too large"),
    # Monitoring: lockouts and cool-offs.
    "too_many_failed_attempts": Problem(429, "Too many failed attempts"),
    "too_many_attempts": Problem(429, "Too many attempts"),
    # Checkout: payments.
    "token_unusable": Problem(422, "The token cannot be charged"),
    "charge_not_found": Problem(404, "No such charge"),
    "refund_not_found": Problem(404, "No such refund"),
    "live_mode_unavailable": Problem(403, "Live mode is not available"),
    "refund_not_allowed": Problem(422, "The charge cannot be refunded"),
    "charge_not_capturable": Problem(409, "The charge cannot be captured or released now"),
    "capture_amount_invalid": Problem(422, "The capture amount is not valid"),
    "invalid_idempotency_key": Problem(400, "Invalid Idempotency-Key header"),
    "idempotency_key_reused": Problem(422, "Idempotency key reused with a different request"),
    "idempotency_key_in_use": Problem(
        409, "A request with this idempotency key is still in progress"
    ),
    # Checkout: billing, customers, sessions, webhooks.
    "subscription_not_found": Problem(404, "No such subscription"),
    "customer_not_found": Problem(404, "No such customer"),
    "customer_card_not_found": Problem(404, "No such card for this customer"),
    "customer_card_refused": Problem(422, "The card cannot be saved to this customer"),
    "customer_unusable": Problem(422, "The customer cannot be used"),
    "checkout_session_not_found": Problem(404, "No such checkout session"),
    "checkout_session_unavailable": Problem(409, "This checkout cannot take a card now"),
    "webhook_endpoint_not_found": Problem(404, "No such webhook endpoint"),
    "webhook_endpoint_limit": Problem(422, "Too many webhook endpoints"),
    "webhook_url_refused": Problem(400, "This webhook URL cannot be used"),
    "event_not_found": Problem(404, "No such event"),
    "delivery_not_resendable": Problem(409, "This delivery cannot be resent now"),
    "notification_refused": Problem(401, "Notification refused"),
    # Checkout: the forwarding relay.
    "destination_not_registered": Problem(403, "No destination is registered for this URL"),
    "destination_path_refused": Problem(403, "This path is outside the destination"),
    "destination_method_refused": Problem(403, "The destination does not take this method"),
    "card_field_refused": Problem(403, "The destination may not receive this card field"),
    "destination_address_refused": Problem(422, "The destination's address is refused"),
    "destination_invalid": Problem(400, "The destination is not valid"),
    "forward_header_refused": Problem(400, "This header cannot be forwarded"),
    "template_invalid": Problem(400, "The body template is not valid"),
    "template_placeholder_unknown": Problem(400, "Unknown placeholder in the body template"),
    "forward_not_found": Problem(404, "No such forward"),
}

# DRF's exceptions → the code they answer with (status and title from ``PROBLEMS``).
DRF_CODES: dict[type[drf_exceptions.APIException], str] = {
    drf_exceptions.ParseError: "malformed_request",
    drf_exceptions.AuthenticationFailed: "authentication_failed",
    drf_exceptions.NotAuthenticated: "authentication_required",
    drf_exceptions.PermissionDenied: "permission_denied",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "rate_limited",
}


def problem_of(error: DomainError) -> Problem:
    """The table row of ``error``: its own, else the nearest of its classes' (a new code of
    a known kind answers like its kind), else a plain 400."""
    row = PROBLEMS.get(error.problem_key)
    if row is not None:
        return row
    for cls in type(error).__mro__:
        own = vars(cls)
        for key in (own.get("problem"), own.get("code")):
            if key and key in PROBLEMS:
                return PROBLEMS[key]
    return PROBLEMS["bad_request"]


def problem_type(code: str) -> str:
    return f"{settings.PROBLEM_TYPE_BASE}{code}"


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
        "type": problem_type(code),
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


def error_headers(error: DomainError) -> dict[str, str]:
    """The headers ``error`` answers with: its row's, and Retry-After when it says when."""
    headers = dict(problem_of(error).headers)
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return headers


def error_body(error: DomainError, request: HttpRequest | None = None) -> dict[str, Any]:
    problem = problem_of(error)
    return problem_body(
        status=problem.status,
        code=error.code,
        title=problem.title,
        detail=error.message or problem.title,
        errors=error.errors,
        request=request,
    )


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
    """A problem+json response for plain Django views."""
    body = problem_body(
        status=status, code=code, title=title, detail=detail, errors=errors, request=request
    )
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(
    error: DomainError,
    request: HttpRequest | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> JsonResponse:
    """``error`` as a plain view's problem+json answer (``headers`` added to its own)."""
    response = JsonResponse(
        error_body(error, request),
        status=problem_of(error).status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in {**error_headers(error), **(headers or {})}.items():
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


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """DRF ``EXCEPTION_HANDLER``: every error leaves as problem+json."""
    request = context.get("request")
    django_request = getattr(request, "_request", request)

    if isinstance(exc, DEPENDENCY_ERRORS):
        exc = dependency_unavailable(exc)
    if isinstance(exc, DomainError):
        return _response(
            error_body(exc, django_request), problem_of(exc).status, error_headers(exc)
        )

    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE while DRF parses it: the
        # client's mistake, so a 413 problem rather than a 500.
        return _table_response(
            "request_too_large",
            "The request body is larger than this API accepts.",
            request=django_request,
        )

    if isinstance(exc, drf_exceptions.ValidationError):
        errors = _flatten(exc.detail)
        detail = errors[0].message if len(errors) == 1 else str(_("Some fields are not valid."))
        return _table_response("validation_error", detail, errors=errors, request=django_request)

    if isinstance(exc, drf_exceptions.APIException):
        code = next((v for k, v in DRF_CODES.items() if isinstance(exc, k)), "")
        title = PROBLEMS[code].title if code else str(exc.default_detail)
        code = code or str(exc.default_code)
        headers: dict[str, str] = {}
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(int(wait) + (wait % 1 > 0))
        detail = exc.detail if isinstance(exc.detail, str) else title
        # DRF decides the status itself (a 401 becomes 403 on a view without authentication).
        body = problem_body(
            status=exc.status_code, code=code, title=title, detail=detail, request=django_request
        )
        return _response(body, exc.status_code, headers)

    logger.exception("unhandled_api_error")
    return _table_response(
        "internal_error",
        "Something went wrong on our side. The request id lets support find it.",
        request=django_request,
    )


def dependency_unavailable(exc: Exception) -> ServiceUnavailable:
    """Log a dependency failure (its type only) and the 503 error that answers it."""
    logger.warning("dependency_unavailable", extra={"error": type(exc).__name__})
    return ServiceUnavailable(
        str(_("A service this request needs is not answering. Try again in a few seconds.")),
        retry_after=RETRY_AFTER_SECONDS,
    )


def _table_response(
    code: str,
    detail: str,
    *,
    errors: Sequence[FieldError] = (),
    request: HttpRequest | None = None,
) -> Response:
    problem = PROBLEMS[code]
    body = problem_body(
        status=problem.status,
        code=code,
        title=problem.title,
        detail=detail,
        errors=errors,
        request=request,
    )
    return _response(body, problem.status, problem.headers)


def _response(
    body: dict[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    response = Response(body, status=status, headers=dict(headers or {}))
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def wants_problem(request: HttpRequest) -> bool:
    """API and vault clients read problem+json; people read pages."""
    return request.path.startswith(("/api/", "/vault/"))


def _html_or_problem(request: HttpRequest, code: str) -> HttpResponse:
    problem = PROBLEMS[code]
    if wants_problem(request):
        return problem_response(
            status=problem.status,
            code=code,
            title=problem.title,
            detail=problem.title,
            request=request,
        )
    handlers = {
        400: defaults.bad_request,
        403: defaults.permission_denied,
        404: defaults.page_not_found,
    }
    if problem.status == 500:
        return defaults.server_error(request)
    return handlers[problem.status](request, exception=Exception())


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _html_or_problem(request, "bad_request")


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _html_or_problem(request, "permission_denied")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _html_or_problem(request, "not_found")


def handler500(request: HttpRequest) -> HttpResponse:
    return _html_or_problem(request, "internal_error")
