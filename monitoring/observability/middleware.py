"""Request id: honour a sane ``X-Request-ID`` from the edge or mint one, and echo it back."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse

from monitoring.observability.clientip import client_ip
from monitoring.observability.context import request_id_var, source_ip_var
from monitoring.observability.metrics import http_observe

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-ID", "")
        # An id from outside is kept only if it cannot smuggle anything into logs or headers.
        request_id = supplied if _VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        source_ip = client_ip(request)
        tokens = (request_id_var.set(request_id), source_ip_var.set(source_ip))
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            request_id_var.reset(tokens[0])
            source_ip_var.reset(tokens[1])
        response["X-Request-ID"] = request_id
        return response


class MetricsMiddleware:
    """Counts requests and their latency by route name (never by raw path: bounded labels,
    and no identifier from a URL ends up in a metric)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.view_name or match.url_name or "unnamed") if match else "unmatched"
        http_observe(route=route, status=response.status_code, seconds=time.perf_counter() - start)
        return response
