"""Request hygiene that every view relies on."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from .problems import DEPENDENCY_ERRORS, dependency_unavailable, problem_response


class RejectNulMiddleware:
    """Refuse a NUL character in the path or query string before any view sees it.

    PostgreSQL cannot store NUL in text and raises on it, so a NUL that reached a lookup
    (``/api/v1/tokens/tok_%00``, ``?token=%00``) would surface as a 500. Request bodies are
    covered by the serializers' and forms' own NUL validators.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "\x00" in unquote(query):
            detail = "The URL contains a NUL character."
            if request.path.startswith(("/api/", "/vault/")):
                return problem_response(
                    status=400,
                    code="malformed_request",
                    title="Malformed request",
                    detail=detail,
                    request=request,
                )
            return HttpResponseBadRequest(detail)
        return self.get_response(request)


class DependencyUnavailableMiddleware:
    """A view that fails because a shared service is down answers 503 with Retry-After
    (problem+json for the API and the vault, a short page for shoppers), not a 500.

    DRF views get the same answer from ``problems.exception_handler``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DEPENDENCY_ERRORS):
            return None
        unavailable = dependency_unavailable(exception)
        if request.path.startswith(("/api/", "/vault/")):
            return problem_response(
                status=503,
                code=unavailable.code,
                title=unavailable.title,
                detail=unavailable.message,
                request=request,
                headers=unavailable.headers,
            )
        response = TemplateResponse(
            request,
            "notice.html",
            {"title": _("Please try again in a moment"), "message": unavailable.message},
            status=503,
        )
        for name, value in unavailable.headers.items():
            response[name] = value
        return response
