"""Test-only payment page (the real one belongs to the checkout app), served by gunicorn with
``ROOT_URLCONF``. Variants simulate what check_payment_page must catch; the script's
bytes come from a file the test can change while the server runs."""

from __future__ import annotations

import os
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path
from django.views.decorators.clickjacking import xframe_options_exempt

from monitoring.observability import views as monitoring_views

PAGE = """<!doctype html><html><head><title>Pay</title>
<script src="/pay/app.js" integrity="{{ integrity }}" nonce="{{ request.csp_nonce }}"></script>
<script nonce="{{ request.csp_nonce }}">{{ inline|safe }}</script>
{% if extra %}<script src="/pay/extra.js"></script>{% endif %}
</head><body><form method="post"><input autocomplete="cc-number"></form></body></html>"""

INLINE = "window.tessera = {ready: true};"


def _script_path() -> Path:
    return Path(os.environ["TEST_PAYMENT_PAGE_DIR"]) / "app.js"


def script(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_script_path().read_bytes(), content_type="text/javascript")


def extra(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"steal()", content_type="text/javascript")


@xframe_options_exempt
def frameable(request: HttpRequest) -> HttpResponse:
    return page(request)


def page(request: HttpRequest) -> HttpResponse:
    from monitoring.pagecheck import sri_hash

    variant = request.GET.get("variant", "ok")
    integrity = (Path(os.environ["TEST_PAYMENT_PAGE_DIR"]) / "integrity.txt").read_text()
    context = {
        "integrity": sri_hash(b"something else") if variant == "bad-integrity" else integrity,
        "inline": INLINE + (" sendTo('x');" if variant == "inline" else ""),
        "extra": variant == "extra",
    }
    html = engines["django"].from_string(PAGE).render(context, request)
    return HttpResponse(html)


urlpatterns = [
    path("healthz", monitoring_views.healthz),
    path("pay/", page),
    path("pay/frameable/", frameable),
    path("pay/app.js", script),
    path("pay/extra.js", extra),
]
