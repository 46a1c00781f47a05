"""The hosted checkout page: ``GET /checkout/<cs_id>/`` renders it, ``POST`` completes it.

Both the JavaScript path (a ``card_jwe`` made in the browser) and the no-JavaScript path (raw
fields over HTTPS, encrypted here at once with ``card_encrypt``) end in the same service call,
``checkout_session_complete``. Errors re-render the page with a message per field; the number
and CVC are never put back into it, and these views are marked so that Django's error reports
never show them either.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from checkout.clock import clock_now
from checkout.currencies import amount_format
from checkout.sessions.assets import page_assets
from checkout.sessions.forms import FIELD_FOR_ERROR, CheckoutForm
from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import (
    CheckoutSessionNotFound,
    CheckoutSessionUnavailable,
    checkout_card_refused,
    checkout_session_complete,
    checkout_session_for_page,
    checkout_session_success_url,
)
from checkout.sessions.transport import card_encrypt, current_key
from monitoring.observability.clientip import client_ip
from monitoring.security.cooloff import Cooloff, SourceCoolingOff, cooloff_check, cooloff_message
from payments_site.kernel.errors import DomainError
from payments_site.problems import problem_of
from vault.cards import CardValidationError, brand_rules_export, card_validate
from vault.keys import KeyPurpose
from vault.transport.ingest import IngestRefused

logger = logging.getLogger(__name__)

CARD_FIELDS = ("number", "exp", "cvc")

# Processor failure codes → what the shopper reads. Lost/stolen cards read as a plain decline:
# the page never tells a card tester more than the card's owner would need.
DECLINE_MESSAGES: dict[str, Any] = {
    "card_declined": gettext_lazy("Your card was declined. Try another card."),
    "insufficient_funds": gettext_lazy("Your card has insufficient funds. Try another card."),
    "expired_card": gettext_lazy("Your card has expired. Try another card."),
    "incorrect_cvc": gettext_lazy("Your card's security code is incorrect."),
    "incorrect_number": gettext_lazy("Your card number is incorrect."),
    "processing_error": gettext_lazy(
        "We couldn't process your card. Nothing was charged. Try again."
    ),
    "processor_unavailable": gettext_lazy(
        "We couldn't reach the card network. Nothing was charged. Try again in a moment."
    ),
}
DECLINE_FIELDS = {"incorrect_cvc": "cvc", "incorrect_number": "number"}
GENERIC_DECLINE = gettext_lazy("Your card was declined. Try another card.")

# Texts the page's script shows (the card rules bring their own field messages).
SCRIPT_MESSAGES = {
    "summary_one": gettext_lazy("Check the highlighted field."),
    "summary_many": gettext_lazy("Check the highlighted fields."),
    "encrypt_failed": gettext_lazy(
        "Your browser could not encrypt the card. Nothing was sent. Reload the page and try again."
    ),
    "processing": gettext_lazy("Processing…"),
    "cvc_hint_3": gettext_lazy("3 digits on the back of the card"),
    "cvc_hint_4": gettext_lazy("4 digits on the front of the card"),
}


def _interval_display(session: CheckoutSession) -> str:
    count = session.interval_count or 1
    units = {
        "day": ngettext("day", "%(count)d days", count),
        "week": ngettext("week", "%(count)d weeks", count),
        "month": ngettext("month", "%(count)d months", count),
        "year": ngettext("year", "%(count)d years", count),
    }
    unit = units.get(session.interval, session.interval) % {"count": count}
    return _("every %(unit)s") % {"unit": unit} if count > 1 else _("per %(unit)s") % {"unit": unit}


def _summary(session: CheckoutSession) -> dict[str, str]:
    if session.mode == CheckoutSession.Mode.SETUP:
        return {"amount": "", "button": _("Save card"), "title": _("Save your card")}
    amount = amount_format(amount=session.amount or 0, currency=session.currency)
    if session.mode == CheckoutSession.Mode.SUBSCRIPTION:
        amount = f"{amount} {_interval_display(session)}"
        return {"amount": amount, "button": _("Subscribe"), "title": _("Subscribe")}
    return {"amount": amount, "button": _("Pay %(amount)s") % {"amount": amount}, "title": _("Pay")}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _page(
    request: HttpRequest,
    session: CheckoutSession,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form_error: str = "",
    name: str = "",
    exp: str = "",
    focus: str = "",
) -> HttpResponse:
    errors = errors or {}
    jwe_key = current_key(KeyPurpose.JWE)
    today = clock_now().date()
    config = {
        "session": session.pk,
        "nonce": session.nonce,
        "jwk": {**jwe_key.jwk, "kid": jwe_key.kid},
        "rules": brand_rules_export(),
        "today": {"year": today.year, "month": today.month},
        "messages": {key: str(value) for key, value in SCRIPT_MESSAGES.items()},
    }
    first_invalid = focus or next((f for f in ("name", *CARD_FIELDS) if f in errors), "")
    context = {
        "session": session,
        "merchant_name": session.merchant.name,
        "summary": _summary(session),
        "config": config,
        "assets": page_assets(),
        "errors": errors,
        "form_error": form_error,
        "first_invalid": first_invalid,
        "values": {"name": name, "exp": exp},
        "cancel_url": session.cancel_url,
    }
    response = render(request, "checkout/page.html", context, status=status)
    # A browser applies form-action to the redirect after the POST too: allow the merchant's
    # success page, and nothing else.
    response._csp_update = {"form-action": [_origin(session.success_url)]}  # type: ignore[attr-defined]
    # No Referer (with the session id) to the merchant or anyone else; "no-referrer" would
    # also make the browser send "Origin: null" with the form, which CSRF checks refuse.
    response["Referrer-Policy"] = "same-origin"
    return response


def _state(request: HttpRequest, session: CheckoutSession | None, *, status: int) -> HttpResponse:
    """The page for a session that takes no card: complete, expired, processing, or unknown."""
    state = session.status if session is not None else "not_found"
    context: dict[str, Any] = {"state": state, "session": session, "assets": page_assets()}
    if session is not None:
        context["merchant_name"] = session.merchant.name
        context["summary"] = _summary(session)
        context["success_url"] = checkout_session_success_url(session)
        context["cancel_url"] = session.cancel_url
    response = render(request, "checkout/state.html", context, status=status)
    response["Referrer-Policy"] = "same-origin"
    return response


def _cooling_off(request: HttpRequest, session: CheckoutSession, cooloff: Cooloff) -> HttpResponse:
    """The friendly 429: the checkout's own page, no card form, and when to come back."""
    context: dict[str, Any] = {
        "state": "cooling_off",
        "session": session,
        "assets": page_assets(),
        "merchant_name": session.merchant.name,
        "summary": _summary(session),
        "cancel_url": session.cancel_url,
        "message": cooloff_message(cooloff),
    }
    response = render(request, "checkout/state.html", context, status=429)
    response["Retry-After"] = str(cooloff.retry_after)
    response["Referrer-Policy"] = "same-origin"
    return response


STATE_STATUS = {
    CheckoutSession.Status.COMPLETE: 200,
    CheckoutSession.Status.EXPIRED: 410,
    CheckoutSession.Status.PROCESSING: 200,
}


@never_cache
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("number", "exp", "cvc", "card_jwe")
def checkout_page(request: HttpRequest, session_id: str) -> HttpResponse:
    try:
        session = checkout_session_for_page(session_id=session_id)
    except CheckoutSessionNotFound:
        return _state(request, None, status=404)
    if session.status != CheckoutSession.Status.OPEN:
        status = STATE_STATUS[CheckoutSession.Status(session.status)]
        if request.method == "POST" and session.status == CheckoutSession.Status.COMPLETE:
            status = 409
        return _state(request, session, status=status)
    # A shopper address or session that tripped a card-testing rule gets no form until its
    # cool-off ends (monitoring.security.engine); other shoppers are not affected.
    shopper_ip = client_ip(request)
    cooloff = cooloff_check(ip=shopper_ip, session_id=session.pk, merchant_id=session.merchant_id)
    if cooloff is not None:
        return _cooling_off(request, session, cooloff)
    if request.method == "POST":
        return _submit(request, session, shopper_ip=shopper_ip)
    return _page(request, session)


@sensitive_variables("form", "card", "validated", "card_jwe")
def _submit(
    request: HttpRequest, session: CheckoutSession, *, shopper_ip: str | None
) -> HttpResponse:
    form = CheckoutForm(request.POST)
    if not form.is_valid():
        if "nonce" in form.errors:
            return _page(
                request,
                session,
                status=409,
                form_error=_("This page is out of date. Enter your card again."),
            )
        # Posted, but not a card anyone could read (a malformed JWE, oversized fields): a
        # refused card attempt all the same.
        checkout_card_refused(session=session, reason="unreadable_card", shopper_ip=shopper_ip)
        return _page(
            request,
            session,
            status=400,
            form_error=_("Your card could not be read. Enter it again."),
            name=str(form.data.get("name", ""))[:200],
        )
    data = form.cleaned_data
    name, exp = data["name"], data["exp"]
    card_jwe = data["card_jwe"]
    if not card_jwe:
        # No JavaScript: the fields arrived over HTTPS. Check them, encrypt them at once the
        # way the browser would, and go on exactly like the JavaScript path.
        card = form.raw_card()
        try:
            validated = card_validate(**card)
        except CardValidationError as exc:
            # Counted once, like a card the vault refuses on the JavaScript path.
            checkout_card_refused(
                session=session,
                reason=exc.errors[0].code if exc.errors else exc.code,
                shopper_ip=shopper_ip,
            )
            return _card_errors(request, session, exc, name=name, exp=exp)
        card_jwe = card_encrypt(
            {
                "number": validated.number,
                "exp_month": validated.exp_month,
                "exp_year": validated.exp_year,
                "cvc": validated.cvc,
                **({"name": validated.name} if validated.name else {}),
            },
            session_id=session.pk,
            nonce=data["nonce"],
        )
        del card, validated
    try:
        attempt = checkout_session_complete(
            session_id=session.pk, nonce=data["nonce"], card_jwe=card_jwe, shopper_ip=shopper_ip
        )
    except SourceCoolingOff as exc:  # this attempt tripped (or met) a card-testing cool-off
        return _cooling_off(request, _fresh(session), exc.cooloff)
    except CheckoutSessionUnavailable as exc:
        fresh = checkout_session_for_page(session_id=session.pk)
        if exc.code == "page_stale":
            return _page(request, fresh, status=409, form_error=exc.message, name=name, exp=exp)
        return _state(request, fresh, status=409 if exc.code != "session_expired" else 410)
    except CardValidationError as exc:
        return _card_errors(request, _fresh(session), exc, name=name, exp=exp)
    except IngestRefused:
        # A JWE not made on this page for this session (or tampered with): say no more.
        return _page(
            request,
            _fresh(session),
            status=400,
            form_error=_("Your card could not be read. Enter it again."),
            name=name,
            exp=exp,
        )
    except DomainError as exc:
        logger.warning("checkout_attempt_failed", extra={"session": session.pk, "code": exc.code})
        ours = problem_of(exc).status >= 500  # our side failed: the card was not judged
        return _page(
            request,
            _fresh(session),
            status=503 if ours else 402,
            form_error=str(DECLINE_MESSAGES["processor_unavailable"])
            if ours
            else str(GENERIC_DECLINE),
            name=name,
            exp=exp,
        )
    if attempt.outcome == "complete":
        return HttpResponseRedirect(attempt.redirect_url, status=303)
    if attempt.outcome == "pending":
        return _state(request, attempt.session, status=202)
    message = str(DECLINE_MESSAGES.get(attempt.failure_code, GENERIC_DECLINE))
    field = DECLINE_FIELDS.get(attempt.failure_code)
    return _page(
        request,
        attempt.session,
        status=402,
        errors={field: message} if field else None,
        form_error=message,
        name=name,
        exp=exp,
        focus=field or "number",  # ready for the next card
    )


def _fresh(session: CheckoutSession) -> CheckoutSession:
    return checkout_session_for_page(session_id=session.pk)


def _card_errors(
    request: HttpRequest,
    session: CheckoutSession,
    exc: CardValidationError,
    *,
    name: str,
    exp: str,
) -> HttpResponse:
    errors: dict[str, str] = {}
    for error in exc.errors:
        field = FIELD_FOR_ERROR.get(error.field, "")
        if field and field not in errors:
            errors[field] = str(error.message)
    count = len(errors)
    summary = (
        next(iter(errors.values()))
        if count == 1
        else _("%(count)d fields need attention.") % {"count": count}
        if count
        else str(exc.message)
    )
    return _page(
        request, session, status=422, errors=errors, form_error=summary, name=name, exp=exp
    )
