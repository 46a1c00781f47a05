"""Adyen's notification webhook: not a merchant API (no key), authenticated per item by HMAC."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from checkout.payments.notifications import (
    MAX_BODY_BYTES,
    NotificationRefused,
    adyen_notifications_receive,
)
from payments_site.problems import error_response


@csrf_exempt  # authenticated by each item's HMAC signature, not by a cookie
@require_POST
def adyen_notifications(request: HttpRequest) -> HttpResponse:
    """``[accepted]`` once every item is verified and recorded (Adyen's acknowledgement)."""
    try:
        adyen_notifications_receive(body=request.read(MAX_BODY_BYTES + 1))
    except NotificationRefused as exc:
        return error_response(exc, request)
    return HttpResponse("[accepted]", content_type="text/plain")
