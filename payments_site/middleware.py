"""Request hygiene that every view relies on."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from payments_site.kernel.cards import CARD_DATA_MESSAGE, card_data_in
from payments_site.kernel.errors import DEPENDENCY_ERRORS, DomainError, FieldError, InvalidInput
from payments_site.problems import (
    dependency_unavailable,
    error_headers,
    error_response,
    wants_problem,
)


class MalformedUrl(DomainError):
    """A URL no view should see (a NUL character)."""

    code = "malformed_request"
    problem = "malformed_url"


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
            if wants_problem(request):
                return error_response(MalformedUrl(detail), request)
            return HttpResponseBadRequest(detail)
        return self.get_response(request)


class CardDataMiddleware:
    """Refuse a card number in the query string of any request, and in any field an admin
    form posts, before a view, a model or a log line sees it (400 ``card_data_not_allowed``
    naming the field, nothing of the value repeated).

    API bodies are checked by the JSON parser (``payments_site.parsers``); the hosted
    payment page's own card fields are the one form that may carry a card, and only there.
    """

    # Credentials, checked by their own rules and never stored in clear.
    EXEMPT_ADMIN_FIELDS = frozenset({"csrfmiddlewaretoken", "password", "otp_token"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = self._field(request)
        if field is None:
            return self.get_response(request)
        error = InvalidInput(
            CARD_DATA_MESSAGE,
            code="card_data_not_allowed",
            errors=[FieldError(field, "card_data_not_allowed", CARD_DATA_MESSAGE)],
        )
        if wants_problem(request):
            return error_response(error, request)
        return HttpResponseBadRequest(f"Card numbers are not allowed in {field}. Use a token.")

    def _field(self, request: HttpRequest) -> str | None:
        for name, values in request.GET.lists():
            if card_data_in(name):
                return "query"
            if card_data_in(values):
                return name
        if request.method == "POST" and request.path.startswith("/admin/"):
            for name, values in request.POST.lists():
                if name in self.EXEMPT_ADMIN_FIELDS:
                    continue
                if card_data_in(name):
                    return "form"
                if card_data_in(values):
                    return name
        return None


class DependencyUnavailableMiddleware:
    """A view that fails because a shared service is down answers 503 with Retry-After
    (problem+json for the API and the vault, a short page for shoppers), not a 500; a plain
    API view's domain error answers problem+json from the one problem table.

    DRF views get the same answers from ``problems.exception_handler``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DomainError) and wants_problem(request):
            return error_response(exception, request)
        if not isinstance(exception, DEPENDENCY_ERRORS):
            return None
        unavailable = dependency_unavailable(exception)
        if wants_problem(request):
            return error_response(unavailable, request)
        response = TemplateResponse(
            request,
            "notice.html",
            {"title": _("Please try again in a moment"), "message": unavailable.message},
            status=503,
        )
        for name, value in error_headers(unavailable).items():
            response[name] = value
        return response
