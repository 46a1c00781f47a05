"""Liveness and readiness endpoints for load balancers and orchestrators."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
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
