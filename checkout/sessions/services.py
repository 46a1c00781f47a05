"""Checkout sessions: create one for a merchant, complete it once from the hosted page.

Completion is one function, ``checkout_session_complete``: every card attempt of every hosted
page (JavaScript or not) passes through it, and every attempt's outcome is recorded by
``_attempt_record``. Those two places are the seams for card-testing defences.

An attempt claims the session with one conditional UPDATE (open, not expired, the page nonce
the shopper's page was rendered with) that also rotates the nonce. So at most one attempt runs
at a time on any number of app servers, a page's JWE is good for one attempt only, and a
session that is complete or expired cannot be claimed at all. The card is then sealed with the
claimed nonce and handed to the vault in-process (``card_ingest``), which refuses a JWE made
for another session or page. No processor call runs inside a transaction.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.views.decorators.debug import sensitive_variables

from checkout.billing.models import Subscription
from checkout.billing.schedule import MAX_INTERVAL_COUNT, Interval
from checkout.billing.services import subscription_create
from checkout.clock import clock_now
from checkout.customers.services import customer_card_attach, customer_usable
from checkout.payments.models import Charge
from checkout.payments.processors import live_mode_require
from checkout.payments.services import charge_create
from checkout.payments.validation import amount_validate, text_validate
from checkout.sessions.events import CheckoutSessionCompleted, CheckoutSessionExpired
from checkout.sessions.expiry import checkout_session_lapse
from checkout.sessions.models import CheckoutSession
from checkout.sessions.transport import card_seal
from monitoring.audit.models import AuditEvent
from monitoring.audit.services import audit_record
from monitoring.security.cooloff import cooloff_enforce
from monitoring.security.engine import signal_record
from monitoring.security.rules import Signal
from payments_site.kernel.errors import DomainError, FieldError, InvalidInput
from payments_site.kernel.events import publish
from payments_site.kernel.idempotency import effect_bind
from payments_site.kernel.ids import new_id
from payments_site.kernel.metadata import metadata_validate
from vault.models import Merchant, Token
from vault.services import token_revoke
from vault.transport.ingest import card_ingest

logger = logging.getLogger(__name__)

MIN_TTL_SECONDS = 5 * 60
MAX_TTL_SECONDS = 24 * 60 * 60
MAX_URL_LENGTH = 2000
MAX_JWE_LENGTH = 4096
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f\\]")


# --- errors --------------------------------------------------------------------------------------


class CheckoutSessionNotFound(DomainError):
    code = "checkout_session_not_found"


class CheckoutSessionUnavailable(DomainError):
    """The session cannot take a card now. ``code`` says why: ``session_complete``,
    ``session_expired``, ``session_busy`` (another attempt is running) or ``page_stale`` (the
    page was rendered before the last attempt; reload it)."""

    code = "session_unavailable"
    problem = "checkout_session_unavailable"


# --- create and read -----------------------------------------------------------------------------


def redirect_url_validate(value: object, *, field: str) -> str:
    """An absolute https URL (http too where ``CHECKOUT_REDIRECT_HTTP_ALLOWED``), with a host,
    no credentials, no whitespace, control characters or backslashes (which browsers read as
    ``/`` and so can smuggle another host), at most 2000 characters."""
    schemes = ["https", "http"] if settings.CHECKOUT_REDIRECT_HTTP_ALLOWED else ["https"]

    def fail(code: str, message: str) -> InvalidInput:
        return InvalidInput(message, errors=[FieldError(field, code, message)])

    if not isinstance(value, str) or not value:
        raise fail("invalid_url", "Give an absolute URL.")
    if len(value) > MAX_URL_LENGTH:
        raise fail("invalid_url", f"Use at most {MAX_URL_LENGTH} characters.")
    if _CONTROL_OR_SPACE.search(value) or not value.isascii():
        raise fail(
            "invalid_url", "The URL contains spaces, control characters, backslashes or non-ASCII."
        )
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if not scheme:
        raise fail("invalid_url", "Give an absolute https:// URL.")
    if scheme not in schemes:
        if scheme == "http":
            raise fail("insecure_url", "Use an https:// URL.")
        raise fail("invalid_url_scheme", "Only https:// URLs are allowed.")
    try:
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError as exc:
        raise fail("invalid_url", "The URL's port is not valid.") from exc
    if parts.username is not None or parts.password is not None:
        raise fail("invalid_url", "The URL must not contain a user name or password.")
    if not parts.hostname:
        raise fail("invalid_url", "The URL needs a host name.")
    try:
        URLValidator(schemes=schemes)(value)
    except DjangoValidationError as exc:
        raise fail("invalid_url", "This is not a valid URL.") from exc
    return value


def _interval_validate(interval: str, interval_count: int | None) -> tuple[str, int]:
    if interval not in Interval.__members__.values():
        raise InvalidInput(
            errors=[FieldError("interval", "invalid_choice", "Use day, week, month or year.")]
        )
    count = 1 if interval_count is None else interval_count
    limit = MAX_INTERVAL_COUNT[Interval(interval)]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= limit:
        raise InvalidInput(
            errors=[
                FieldError(
                    "interval_count",
                    "invalid_interval_count",
                    f"Use 1 to {limit} for a {interval} interval.",
                )
            ]
        )
    return interval, count


def checkout_session_create(
    *,
    merchant: Merchant,
    mode: str,
    success_url: str,
    cancel_url: str,
    amount: int | None = None,
    currency: str = "",
    interval: str = "",
    interval_count: int | None = None,
    description: str = "",
    customer_reference: str = "",
    customer_id: str | None = None,
    metadata: Mapping[str, str] | None = None,
    expires_in: int | None = None,
    capture_method: str = "automatic",
    now: datetime | None = None,
) -> CheckoutSession:
    """A hosted page for ``mode``: ``payment`` (charge ``amount`` now, or only authorise it
    with ``capture_method="manual"``), ``setup`` (save the card as a token) or
    ``subscription`` (pay the first ``interval`` now, then recurring). Every field is checked
    here, so completion cannot fail on the merchant's input."""
    errors: list[FieldError] = []
    if mode not in CheckoutSession.Mode.values:
        raise InvalidInput(
            errors=[FieldError("mode", "invalid_choice", "Use payment, setup or subscription.")]
        )
    if mode == CheckoutSession.Mode.SETUP:
        if amount is not None or currency or interval:
            errors.append(
                FieldError("mode", "invalid_for_mode", "A setup session takes no amount.")
            )
    else:
        if amount is None or not currency:
            raise InvalidInput(
                errors=[
                    FieldError(name, "missing_field", f"A {mode} session needs an {name}.")
                    for name, given in (("amount", amount), ("currency", currency))
                    if given in (None, "")
                ]
            )
        amount, currency = amount_validate(amount=amount, currency=currency)
    if mode == CheckoutSession.Mode.SUBSCRIPTION:
        if not interval:
            errors.append(FieldError("interval", "missing_field", "Give the billing interval."))
        else:
            interval, interval_count = _interval_validate(interval, interval_count)
    elif interval or interval_count is not None:
        errors.append(
            FieldError("interval", "invalid_for_mode", "Only subscriptions take an interval.")
        )
    if capture_method not in ("automatic", "manual"):
        errors.append(FieldError("capture_method", "invalid_choice", "Use automatic or manual."))
    elif capture_method == "manual" and mode != CheckoutSession.Mode.PAYMENT:
        errors.append(
            FieldError(
                "capture_method",
                "invalid_for_mode",
                "Only a payment session can authorise now and capture later.",
            )
        )
    if errors:
        raise InvalidInput(errors=errors)
    success_url = redirect_url_validate(success_url, field="success_url")
    cancel_url = redirect_url_validate(cancel_url, field="cancel_url")
    text_validate(description=description, metadata={"customer_reference": customer_reference})
    metadata = metadata_validate(dict(metadata or {}))
    ttl = settings.CHECKOUT_SESSION_TTL_SECONDS if expires_in is None else expires_in
    if (
        isinstance(ttl, bool)
        or not isinstance(ttl, int)
        or not (MIN_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS)
    ):
        raise InvalidInput(
            errors=[
                FieldError(
                    "expires_in",
                    "invalid_expires_in",
                    f"Use {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS} seconds.",
                )
            ]
        )
    if merchant.acting_livemode() and mode != CheckoutSession.Mode.SETUP:
        live_mode_require()  # a live page that takes money needs a live processor
    customer = customer_usable(merchant=merchant, customer_id=customer_id) if customer_id else None
    now = clock_now(now)
    with transaction.atomic():
        session = CheckoutSession.objects.create(
            merchant=merchant,
            customer=customer,
            livemode=merchant.acting_livemode(),
            mode=mode,
            amount=amount,
            currency=currency if mode != CheckoutSession.Mode.SETUP else "",
            interval=interval if mode == CheckoutSession.Mode.SUBSCRIPTION else "",
            interval_count=interval_count if mode == CheckoutSession.Mode.SUBSCRIPTION else None,
            description=description,
            capture_method=capture_method,
            customer_reference=customer_reference,
            metadata=metadata,
            success_url=success_url,
            cancel_url=cancel_url,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
        effect_bind(session.pk)
        audit_record(
            action="checkout.session.create",
            actor=f"merchant:{merchant.pk}",
            object_type="checkout_session",
            object_id=session.pk,
            data={"mode": mode},
        )
    return session


def checkout_session_get(
    *, merchant: Merchant, session_id: str, now: datetime | None = None
) -> CheckoutSession:
    """The merchant's session, its state brought up to date. Another merchant's session, or
    one of the other mode, is reported exactly like a missing one."""
    session = CheckoutSession.objects.owned_by(merchant).filter(pk=session_id).first()
    if session is None:
        raise CheckoutSessionNotFound("No such checkout session for this merchant.")
    return checkout_session_sync(session=session, now=now)


def checkout_session_for_page(*, session_id: str, now: datetime | None = None) -> CheckoutSession:
    """The session behind a hosted page URL (the id is the capability), up to date."""
    session = CheckoutSession.objects.select_related("merchant").filter(pk=session_id[:40]).first()
    if session is None or not session.merchant.is_active:
        raise CheckoutSessionNotFound("No such checkout.")
    return checkout_session_sync(session=session, now=now)


SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"


def checkout_session_success_url(session: CheckoutSession) -> str:
    """Where the shopper goes once done. As in Stripe, ``{CHECKOUT_SESSION_ID}`` anywhere in
    the merchant's success URL (path, query or fragment; a host cannot hold braces) becomes the
    session's id; a URL without it is followed as given, nothing added: a merchant that wants
    the id on its success page asks for it with the placeholder."""
    return session.success_url.replace(SESSION_ID_PLACEHOLDER, session.pk)


def checkout_session_sync(
    *, session: CheckoutSession, now: datetime | None = None
) -> CheckoutSession:
    """Bring a session's status up to date: expire an open one past ``expires_at`` (announced
    once, ``checkout_session_lapse``); settle one whose charge was pending when its attempt
    ended (the reconcile job settles the charge); reopen one whose attempt died without a
    charge."""
    now = clock_now(now)
    if session.status == CheckoutSession.Status.OPEN and session.expires_at <= now:
        checkout_session_lapse(session_id=session.pk, merchant_id=session.merchant_id, now=now)
        session.refresh_from_db()
    elif session.status == CheckoutSession.Status.PROCESSING:
        if session.charge_id is not None:
            charge = Charge.objects.get(pk=session.charge_id)
            if charge.status != Charge.Status.PENDING:
                token = Token.objects.get(pk=charge.token_id)
                _after_charge(session, token=token, charge=charge, now=now)
                session.refresh_from_db()
        elif session.locked_at is not None and session.locked_at <= now - timedelta(
            seconds=settings.CHECKOUT_ATTEMPT_LOCK_SECONDS
        ):
            _reopen(session, failure_code="attempt_abandoned", expected=session.locked_at)
            session.refresh_from_db()
    return session


_NOT_OPEN = {
    CheckoutSession.Status.COMPLETE: ("session_complete", "This checkout session is complete."),
    CheckoutSession.Status.EXPIRED: ("session_expired", "This checkout session has expired."),
    CheckoutSession.Status.PROCESSING: (
        "session_busy",
        "A card is being processed on this checkout session; it can no longer be expired.",
    ),
}


def checkout_session_expire(
    *, merchant: Merchant, session_id: str, actor: str, now: datetime | None = None
) -> CheckoutSession:
    """Close an open session at once, as if its time had run out: its page takes no card from
    then on. Only an open session can be expired (as in Stripe); one complete, already expired
    or with a card in flight is refused, naming which. One conditional UPDATE decides, so an
    expiry racing a card attempt either wins (the attempt cannot claim the session) or loses
    (and is refused)."""
    session = checkout_session_get(merchant=merchant, session_id=session_id, now=now)
    with transaction.atomic():
        expired = CheckoutSession.objects.filter(
            pk=session.pk, status=CheckoutSession.Status.OPEN
        ).update(status=CheckoutSession.Status.EXPIRED)
        if expired:
            effect_bind(session.pk)
            audit_record(
                action="checkout.session.expire",
                actor=actor,
                object_type="checkout_session",
                object_id=session.pk,
            )
            publish(CheckoutSessionExpired(session_id=session.pk, merchant_id=merchant.pk))
    session.refresh_from_db()
    if not expired:
        code, message = _NOT_OPEN.get(
            CheckoutSession.Status(session.status), ("session_unavailable", "Not open.")
        )
        raise CheckoutSessionUnavailable(message, code=code)
    return session


# --- complete ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutAttempt:
    """What one card attempt came to. ``complete``: go to ``redirect_url``. ``declined``: the
    processor said no (``failure_code``); the session is open again for another card.
    ``pending``: the processor's answer was lost; the session settles with the charge."""

    session: CheckoutSession
    outcome: Literal["complete", "declined", "pending"]
    failure_code: str = ""

    @property
    def redirect_url(self) -> str:
        return checkout_session_success_url(self.session)


@sensitive_variables("card_jwe", "sealed", "ingested")
def checkout_session_complete(
    *,
    session_id: str,
    nonce: str,
    card_jwe: str,
    shopper_ip: str | None = None,
    now: datetime | None = None,
) -> CheckoutAttempt:
    """Turn the page's card JWE into the session's outcome, at most once per session.

    ``shopper_ip`` is the shopper's address as the page saw it
    (``monitoring.observability.clientip``): it is signed into the card JWT and feeds the
    card-testing rules with the session id.

    Raises ``SourceCoolingOff`` (429: the address or session cools off after a card-testing
    rule; nothing is claimed, or, when this card tripped the rule, it is revoked unused),
    ``CheckoutSessionUnavailable`` (complete, expired, busy, stale page),
    ``CardValidationError`` (422, field errors) or ``IngestRefused`` (a JWE not made for this
    session and page); after a refused card, a foreign JWE or a card that tripped a rule
    the session is open again.
    """
    now = clock_now(now)
    # Monitoring seam: a source cooling off waits before anything is claimed or
    # decrypted, and this refusal changes nothing (it is not an attempt).
    cooloff_enforce(ip=shopper_ip, session_id=session_id[:40])
    session = _claim(session_id=session_id, nonce=nonce, now=now)
    try:
        if not isinstance(card_jwe, str) or not 0 < len(card_jwe) <= MAX_JWE_LENGTH:
            raise InvalidInput(
                "The card could not be read. Enter it again.",
                code="invalid_card_jwe",
                errors=[FieldError("card_jwe", "invalid_card_jwe", "Enter your card again.")],
            )
        sealed = card_seal(
            card_jwe,
            session_id=session.pk,
            nonce=nonce,
            merchant_id=session.merchant_id,
            livemode=session.livemode,
            client_ip=shopper_ip,
        )
        ingested = card_ingest(sealed)
    except Exception as exc:
        code = exc.code if isinstance(exc, DomainError) else "internal_error"
        _reopen(session, failure_code=code)
        _attempt_record(
            session,
            outcome=AuditEvent.Outcome.DENIED,
            reason=code,
            shopper_ip=shopper_ip,
            # The vault ingest reported every refusal it made (card rules, JWT checks); only a
            # card JWE too broken to reach it is counted here.
            signal=Signal.CARD_INVALID if code == "invalid_card_jwe" else None,
        )
        raise
    # The vault refused (``SourceCoolingOff``, its token shredded) a card that cools off or
    # that tripped a card-testing rule itself: it is never authorised, so the tester does not
    # learn whether it works; ``charge_create`` checks the card again before the processor.
    token = ingested.token
    if session.mode == CheckoutSession.Mode.SETUP:
        _card_save(session, token=token)
        _finish(session, token=token, now=now)
        _attempt_record(session, outcome=AuditEvent.Outcome.SUCCESS, token=token)
        return CheckoutAttempt(session=_reload(session), outcome="complete")

    amount = session.amount or 0  # a check constraint gives paid modes an amount
    metadata = {"checkout_session": session.pk}
    if session.customer_reference:
        metadata["customer_reference"] = session.customer_reference
    try:
        charge = charge_create(
            merchant=session.owner,
            token_id=token.pk,
            amount=amount,
            currency=session.currency,
            description=session.description,
            metadata=metadata,
            idempotency_key=f"checkout:{session.pk}:{session.attempts}",
            capture=session.capture_method != "manual",
            # The CVC reaches the processor for this first authorisation only, from memory.
            cvc=ingested.cvc,
            # The processor's answer feeds the card-testing rules for this shopper and session.
            shopper_ip=shopper_ip,
            session_id=session.pk,
            now=now,
        )
    except Exception as exc:
        code = exc.code if isinstance(exc, DomainError) else "internal_error"
        _reopen(session, failure_code=code)
        _attempt_record(session, outcome=AuditEvent.Outcome.FAILURE, reason=code, token=token)
        raise
    finally:
        del ingested
    return _after_charge(session, token=token, charge=charge, now=now)


def _claim(*, session_id: str, nonce: str, now: datetime) -> CheckoutSession:
    claimed = CheckoutSession.objects.filter(
        pk=session_id,
        status=CheckoutSession.Status.OPEN,
        nonce=nonce,
        expires_at__gt=now,
        merchant__is_active=True,
    ).update(
        status=CheckoutSession.Status.PROCESSING,
        nonce=new_id("pn"),
        attempts=F("attempts") + 1,
        locked_at=now,
        last_failure_code="",
    )
    if claimed:
        return CheckoutSession.objects.select_related("merchant").get(pk=session_id)
    session = checkout_session_for_page(session_id=session_id, now=now)
    reasons = {
        CheckoutSession.Status.COMPLETE: ("session_complete", "This checkout is already paid."),
        CheckoutSession.Status.EXPIRED: ("session_expired", "This checkout has expired."),
        CheckoutSession.Status.PROCESSING: (
            "session_busy",
            "Your card is being processed. Wait a moment before trying again.",
        ),
    }
    code, message = reasons.get(
        CheckoutSession.Status(session.status),
        ("page_stale", "This page is out of date. Enter your card again."),
    )
    raise CheckoutSessionUnavailable(message, code=code)


def _after_charge(
    session: CheckoutSession, *, token: Token, charge: Charge, now: datetime
) -> CheckoutAttempt:
    if charge.status == Charge.Status.PENDING:
        CheckoutSession.objects.filter(pk=session.pk).update(token=token, charge=charge)
        _attempt_record(session, outcome=AuditEvent.Outcome.SUCCESS, reason="pending", token=token)
        return CheckoutAttempt(session=_reload(session), outcome="pending")
    if charge.status == Charge.Status.FAILED:
        # The merchant never gets this token: keeping its card would be data held for nothing.
        token_revoke(token=token, actor=f"checkout:{session.pk}", reason="checkout card declined")
        _reopen(session, failure_code=charge.failure_code)
        _attempt_record(
            session, outcome=AuditEvent.Outcome.FAILURE, reason=charge.failure_code, token=token
        )
        return CheckoutAttempt(
            session=_reload(session), outcome="declined", failure_code=charge.failure_code
        )
    saved = _card_save(session, token=token)
    subscription = None
    if session.mode == CheckoutSession.Mode.SUBSCRIPTION:
        # Paid: recorded on the session first, so that if creating the subscription fails the
        # next sync retries it instead of reopening a paid session.
        CheckoutSession.objects.filter(pk=session.pk).update(token=token, charge=charge)
        # The charge just made pays period 0, from now; billing starts at the next period.
        subscription = subscription_create(
            merchant=session.owner,
            # The customer's saved card: this token, or the customer's own earlier token when
            # it had this card already (one card, however often it is entered).
            token_id=saved or token.pk,
            customer_id=session.customer_id if saved else None,
            amount=charge.amount,
            currency=charge.currency,
            interval=session.interval,
            interval_count=session.interval_count or 1,
            start=now,
            description=session.description,
            metadata={"checkout_session": session.pk},
            now=now,
            first_period_paid_by=charge,
        )
    _finish(session, token=token, charge=charge, subscription=subscription, now=now)
    _attempt_record(session, outcome=AuditEvent.Outcome.SUCCESS, token=token)
    return CheckoutAttempt(session=_reload(session), outcome="complete")


def _card_save(session: CheckoutSession, *, token: Token) -> str | None:
    """Save the session's card to its customer, if it has one: the token saved (the customer's
    own earlier token when it had this card already), or None. A card that cannot be saved
    (the customer was deleted meanwhile) does not undo a paid checkout: it is logged."""
    if session.customer_id is None:
        return None
    try:
        attached = customer_card_attach(
            merchant=session.owner,
            customer_id=session.customer_id,
            token_id=token.pk,
            actor=f"checkout:{session.pk}",
        )
    except DomainError as exc:
        logger.warning("checkout_card_not_saved", extra={"session": session.pk, "reason": exc.code})
        return None
    return attached.card.token_id


def _finish(
    session: CheckoutSession,
    *,
    token: Token,
    now: datetime,
    charge: Charge | None = None,
    subscription: Subscription | None = None,
) -> None:
    with transaction.atomic():  # the completion and its event commit together
        done = CheckoutSession.objects.filter(
            pk=session.pk, status=CheckoutSession.Status.PROCESSING
        ).update(
            status=CheckoutSession.Status.COMPLETE,
            token=token,
            charge=charge,
            subscription=subscription,
            completed_at=now,
            locked_at=None,
            last_failure_code="",
        )
        if done:
            publish(
                CheckoutSessionCompleted(session_id=session.pk, merchant_id=session.merchant_id)
            )
    if not done:  # cannot happen while attempts end within CHECKOUT_ATTEMPT_LOCK_SECONDS
        logger.error("checkout_session_finish_lost", extra={"session": session.pk})


def _reopen(
    session: CheckoutSession, *, failure_code: str, expected: datetime | None = None
) -> None:
    """End an attempt without completing: open again (the page nonce has already moved on)."""
    attempt = CheckoutSession.objects.filter(
        pk=session.pk, status=CheckoutSession.Status.PROCESSING
    )
    if expected is not None:
        attempt = attempt.filter(locked_at=expected)
    attempt.update(
        status=CheckoutSession.Status.OPEN,
        locked_at=None,
        token=None,
        charge=None,
        last_failure_code=failure_code[:50],
    )


def _reload(session: CheckoutSession) -> CheckoutSession:
    return CheckoutSession.objects.select_related("merchant").get(pk=session.pk)


def checkout_card_refused(
    *, session: CheckoutSession, reason: str, shopper_ip: str | None = None
) -> None:
    """A card the page refused before it was encrypted (the no-JavaScript path checks the
    fields first): audited, and counted by the card-testing rules exactly like a card the
    vault refuses. The session is not claimed and its page stays valid."""
    _attempt_record(
        session,
        outcome=AuditEvent.Outcome.DENIED,
        reason=reason,
        shopper_ip=shopper_ip,
        signal=Signal.CARD_INVALID,
    )


def _attempt_record(
    session: CheckoutSession,
    *,
    outcome: str,
    reason: str = "",
    token: Token | None = None,
    shopper_ip: str | None = None,
    signal: Signal | None = None,
) -> None:
    """The one record of every card attempt on a hosted page, whatever its outcome.

    Card-testing signals (the monitoring seam) are counted once per attempt, where the
    outcome is known: the vault ingest reports a card it refuses (``CARD_INVALID``) or
    tokenizes (``CARD_SUBMITTED``, ``TOKENIZED``), ``charge_create`` reports the processor's
    answer (``CHARGE_SUCCEEDED`` / ``CHARGE_DECLINED``). ``signal`` is given only for an
    outcome neither of them saw, so nothing is counted twice.
    """
    if signal is not None:
        signal_record(
            signal,
            ip=shopper_ip,
            session_id=session.pk,
            merchant_id=session.merchant_id,
            fingerprint=token.fingerprint if token else None,
            reason=reason,
        )
    audit_record(
        action="checkout.attempt",
        outcome=outcome,
        actor=f"checkout:{session.pk}",
        object_type="checkout_session",
        object_id=session.pk,
        reason=reason[:100],
        data={
            "attempt": session.attempts,
            "mode": session.mode,
            "token": token.pk if token else "",
        },
    )


__all__ = [
    "CheckoutAttempt",
    "CheckoutSessionNotFound",
    "CheckoutSessionUnavailable",
    "checkout_card_refused",
    "checkout_session_complete",
    "checkout_session_create",
    "checkout_session_expire",
    "checkout_session_for_page",
    "checkout_session_get",
    "checkout_session_success_url",
    "checkout_session_sync",
    "redirect_url_validate",
]
