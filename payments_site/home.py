"""The site's root: what this deployment is and where to go (API docs, admin), and under
``make run`` a demo checkout in test mode for the demo merchant ``bootstrap_demo`` made."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import SESSION_ID_PLACEHOLDER, checkout_session_create
from vault.management.commands.bootstrap_demo import DEMO_MERCHANT
from vault.models import Merchant

DEMO_AMOUNT = 4900
DEMO_CURRENCY = "EUR"


def _demo_merchant() -> Merchant | None:
    if not settings.DEMO_CHECKOUT_ENABLED:
        return None
    merchant = Merchant.objects.filter(name=DEMO_MERCHANT).first()
    # The demo pays in test mode, with the public test cards.
    return merchant.in_mode(False) if merchant is not None else None


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    merchant = _demo_merchant()
    paid = None
    if merchant is not None and (session_id := request.GET.get("session_id", "")):
        paid = CheckoutSession.objects.owned_by(merchant).filter(pk=session_id).first()
    return render(
        request,
        "home.html",
        {"demo": merchant is not None, "paid": paid, "amount": DEMO_AMOUNT / 100},
    )


@require_POST
def demo_checkout(request: HttpRequest) -> HttpResponse:
    """A fresh test-mode payment page for the demo merchant (development settings only)."""
    merchant = _demo_merchant()
    if merchant is None:
        raise Http404
    back = settings.PUBLIC_ORIGIN.rstrip("/") + reverse("home")
    session = checkout_session_create(
        merchant=merchant,
        mode=CheckoutSession.Mode.PAYMENT,
        amount=DEMO_AMOUNT,
        currency=DEMO_CURRENCY,
        description="Tessera demo checkout (test mode)",
        # The root page reports the session it is sent back from.
        success_url=f"{back}?session_id={SESSION_ID_PLACEHOLDER}",
        cancel_url=back,
    )
    return HttpResponseRedirect(reverse("checkout-page", args=[session.pk]), status=303)
