"""Request hygiene that every view relies on."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from .problems import problem_response


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
