"""Liveness and readiness endpoints for load balancers and orchestrators."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from monitoring.observability.metrics import metrics_exposition

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency in ``READINESS_CHECKS`` answers; 503 names the ones that do not."""
    checks: dict[str, str] = {}
    for dotted in settings.READINESS_CHECKS:
        name = dotted.rsplit(".", 1)[-1].removeprefix("check_")
        try:
            import_string(dotted)()
        except Exception:
            logger.warning("readiness_check_failed", extra={"check": name}, exc_info=True)
            checks[name] = "unavailable"
        else:
            checks[name] = "ok"
    ready = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition, merged across gunicorn workers. Needs
    ``Authorization: Bearer <METRICS_BEARER_TOKEN>``; without that setting the page does not
    exist (404), so it is never open by accident."""
    expected = getattr(settings, "METRICS_BEARER_TOKEN", "")
    if not expected:
        raise Http404
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics_exposition()
    return HttpResponse(body, content_type=content_type)
