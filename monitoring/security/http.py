"""The cool-offs at the HTTP edge: a friendly 429 page for people, problem+json for API
clients, a Django view decorator and DRF throttles."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from monitoring.observability.clientip import client_ip
from monitoring.security.cooloff import Cooloff, SourceCoolingOff, cooloff_check, cooloff_message
from monitoring.security.rules import api_client_source
from payments_site.problems import error_response, wants_problem


def cooloff_response(request: HttpRequest, cooloff: Cooloff) -> HttpResponse:
    """The friendly 429: an HTML page for people, problem+json for API clients."""
    headers = {"Retry-After": str(cooloff.retry_after), "Cache-Control": "no-store"}
    if wants_problem(request) or "json" in request.headers.get("Accept", ""):
        return error_response(SourceCoolingOff(cooloff), request, headers=headers)
    response = TemplateResponse(
        request,
        "monitoring/cooloff.html",
        {
            "title": _("Please wait a moment"),
            "minutes": cooloff.retry_after_minutes,
            "message": cooloff_message(cooloff),
        },
        status=429,
    )
    for name, value in headers.items():
        response[name] = value
    return response


def cooloff_guard(
    *, session_kwarg: str | None = None
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorator for Django views: answer the friendly 429 while the client's address (or the
    checkout session named by the URL kwarg ``session_kwarg``) cools off.

    ``@cooloff_guard(session_kwarg="session_id")`` on ``def checkout_page(request, session_id)``.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            session = str(kwargs.get(session_kwarg, "")) if session_kwarg else None
            cooloff = cooloff_check(ip=client_ip(request), session_id=session or None)
            if cooloff is not None:
                return cooloff_response(request, cooloff)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


class CooloffThrottle(BaseThrottle):
    """DRF: ``throttle_classes = [CooloffThrottle]`` answers 429 + Retry-After while the
    request's source cools off. It raises ``SourceCoolingOff`` itself, so the problem says
    ``too_many_attempts`` with the cool-off's message, not a generic rate limit.

    Which source depends on who is asking. An authenticated merchant is judged only by what
    its own key did: its API client at this address (``api_client_source``). Cool-offs of an
    address, a checkout session or a whole merchant can be tripped by anyone without a key (a
    hosted page, the vault ingest), so they never refuse keyed traffic: behind a shared NAT or
    an unconfigured proxy they would otherwise let an attacker deny every merchant there.
    Anonymous requests are judged by their address.
    """

    def allow_request(self, request: Request, view: APIView) -> bool:
        ip = client_ip(request._request)
        merchant_id = getattr(request.user, "id", None) if request.auth is not None else None
        if merchant_id:
            self._cooloff = cooloff_check(
                client=api_client_source(merchant_id=str(merchant_id), ip=ip)
            )
        else:
            self._cooloff = cooloff_check(ip=ip)
        if self._cooloff is not None:
            raise SourceCoolingOff(self._cooloff)
        return True

    def wait(self) -> float | None:
        cooloff = getattr(self, "_cooloff", None)
        return float(cooloff.retry_after) if cooloff else None


class CooloffWriteThrottle(CooloffThrottle):
    """``CooloffThrottle`` for writes only: a merchant's server cooling off still reads what
    it already has (charges, sessions), it just cannot try more cards."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            self._cooloff = None
            return True
        return super().allow_request(request, view)
