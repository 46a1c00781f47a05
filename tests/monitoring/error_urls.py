"""A test-only view that fails while holding card data, as a careless card view might."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.urls import path

logger = logging.getLogger("tests.checkout")


def card_error(request: HttpRequest) -> HttpResponse:
    number = request.POST["number"]
    cvc = request.POST["cvc"]
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    details = {"card": {"number": number, "cvc": cvc}, "amount": 1000}
    logger.info("charging card %s", spaced)
    raise ValueError(f"processor refused card {number} ({details['amount']}, cvc {cvc})")


urlpatterns = [path("boom", card_error)]
