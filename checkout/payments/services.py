"""Charges and refunds.

A charge is written ``pending`` and committed before the processor is called, with our charge
id as the processor's idempotency key; its outcome is written in a second transaction. If the
answer never comes (timeout, crash), the charge stays ``pending`` and ``charge_reconcile`` asks
the processor what happened — or re-sends the same request, which the processor deduplicates —
so a charge is never made twice. A charge with ``capture=False`` is only authorised the same
way; its capture, release and expiry (``checkout.payments.authorizations``) follow the same two
steps.

Payments know nothing of subscriptions: billing passes ``on_settled``, called inside the
transaction that records a charge's outcome, so a renewal and its schedule commit together.
Everything else hears of a settled charge or refund through the events published after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from checkout.clock import clock_now
from checkout.payments.authorizations import IN_FLIGHT as IN_FLIGHT_STEPS
from checkout.payments.authorizations import authorization_steps_reconcile
from checkout.payments.errors import (
    ChargeIdempotencyConflict,
    ChargeNotFound,
    RefundNotAllowed,
    RefundNotFound,
    token_unusable,
)
from checkout.payments.events import (
    ChargeAuthorized,
    ChargeFailed,
    ChargeSucceeded,
    RefundFailed,
    RefundSucceeded,
)
from checkout.payments.idempotency.services import idempotency_key_at_rest
from checkout.payments.models import Charge, Refund
from checkout.payments.processors import (
    ProcessorCard,
    ProcessorCharge,
    ProcessorTimeout,
    ProcessorUnreachable,
    get_processor,
    live_mode_require,
)
from checkout.payments.processors.adapter import (
    PROCESSOR_ACTOR,
    TokenRefused,
    processor_card_reveal,
    processor_charge_token,
)
from checkout.payments.processors.base import modes_with_processor, processor_name
from checkout.payments.resend import resend_stopped
from checkout.payments.tokens import token_for_charge, token_refusal
from checkout.payments.validation import amount_validate, text_validate
from monitoring.security.cooloff import cooloff_enforce
from monitoring.security.engine import alert_raise, signal_record
from monitoring.security.rules import Signal
from payments_site.kernel.errors import FieldError
from payments_site.kernel.events import publish
from payments_site.kernel.idempotency import effect_bind, effect_settled
from payments_site.kernel.rows import row_insert, row_update
from vault.models import Merchant, Token
from vault.services import key_failures_audited

logger = logging.getLogger(__name__)

PROCESSOR_UNAVAILABLE = "processor_unavailable"
FAILURE_MESSAGES = {
    PROCESSOR_UNAVAILABLE: "The payment processor could not be reached. Nothing was charged.",
    "token_revoked": "The token was revoked; nothing was charged.",
    "token_expired": "The card behind the token has expired; nothing was charged.",
}

# Called as ``on_settled(charge=, now=)`` inside the transaction that settles ``charge``.
SettledHook = Callable[..., None]


def charge_create(
    *,
    merchant: Merchant,
    token_id: str,
    amount: int,
    currency: str,
    description: str = "",
    metadata: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
    capture: bool = True,
    cvc: str | None = None,
    shopper_ip: str | None = None,
    session_id: str | None = None,
    api_client: str | None = None,
    now: datetime | None = None,
) -> Charge:
    """Charge a token now. Returns the charge: ``succeeded``, ``failed`` (declined, with
    ``failure_code``) or ``pending`` (processor answer lost; settled by reconcile). With
    ``capture=False`` the card is only authorised: ``requires_capture`` instead of
    ``succeeded``, captured later by ``charge_capture``.

    ``cvc`` is for the first authorisation after tokenisation only (the hosted checkout passes
    the shopper's CVC in memory); it goes to the processor and nowhere else. With an
    ``idempotency_key`` at most one charge ever exists for it, whatever the HTTP layer does.
    ``shopper_ip`` / ``session_id`` (hosted checkout only) feed the card-testing rules; a
    merchant's server calling the API is not a shopper, so API charges pass neither and give
    ``api_client`` instead (``monitoring.security.engine.api_client_source``: merchant and address),
    which only server-sized rules count.

    Raises ``SourceCoolingOff`` before anything is written while the card (its fingerprint)
    or a given source cools off: every path to the processor passes here or through
    ``subscription_bill``, so a rule's cool-off holds whichever way the card comes back.
    """
    if merchant.acting_livemode():
        live_mode_require()  # before anything is stored
    amount, currency = amount_validate(amount=amount, currency=currency)
    metadata = dict(metadata or {})
    text_validate(description=description, metadata=metadata)
    if idempotency_key:
        idempotency_key = idempotency_key_at_rest(idempotency_key)
    now = clock_now(now)
    livemode = merchant.acting_livemode()
    # Reads first, outside the transaction: it holds only the writes of the intent.
    token = token_for_charge(merchant=merchant, token_id=token_id, now=now)
    cooloff_enforce(
        fingerprint=token.fingerprint, client=api_client, ip=shopper_ip, session_id=session_id
    )
    capture_method = Charge.CaptureMethod.AUTOMATIC if capture else Charge.CaptureMethod.MANUAL
    charge = Charge(
        merchant=merchant,
        livemode=livemode,
        token=token,
        amount=amount,
        currency=currency,
        description=description,
        metadata=metadata,
        capture_method=capture_method,
        idempotency_key=idempotency_key or "",
        processor=processor_name(livemode=livemode),
        created_at=now,
    )
    # The intent, one commit: the request's idempotency record with its effect, the pending
    # charge, and the card's reveal (its audit event, the token's use). A key-service failure
    # rolls all of it back and is audited once that has happened.
    refused = ""
    card: ProcessorCard | None = None
    inserting = False
    try:
        with (
            key_failures_audited(
                operation="token_reveal", actor=PROCESSOR_ACTOR, object_id=token.pk
            ),
            transaction.atomic(),
        ):
            effect_bind(charge.pk)
            inserting = True
            row_insert(charge)
            inserting = False
            try:
                card = processor_card_reveal(charge_id=charge.pk, token=token, cvc=cvc)
            except TokenRefused as refusal:  # revoked since it was read: recorded as failed
                refused = refusal.code
    except IntegrityError:
        if not (inserting and idempotency_key):
            raise
        # Same key as an earlier charge (made without this request's record): that one.
        existing = Charge.objects.owned_by(merchant).get(idempotency_key=idempotency_key)
        return _same_charge(
            existing,
            token=token,
            amount=amount,
            currency=currency,
            capture_method=capture_method,
        )
    if refused:
        charge = charge_fail(charge=charge, failure_code=refused, now=now)
    else:
        charge = charge_execute(charge=charge, token=token, card=card, now=now)
    charge_report(
        charge=charge,
        fingerprint=token.fingerprint,
        ip=shopper_ip,
        session_id=session_id,
        api_client=api_client,
    )
    return charge


# Failure codes we give without asking the processor: not a card's answer, so not a signal.
OUR_FAILURE_CODES = frozenset({PROCESSOR_UNAVAILABLE, "token_revoked", "token_expired"})


def charge_report(
    *,
    charge: Charge,
    fingerprint: str,
    ip: str | None = None,
    session_id: str | None = None,
    api_client: str | None = None,
) -> None:
    """Tell monitoring's card-testing rules how the processor answered (after the commit, so
    a rolled-back charge never counts). Pending charges are reported once reconciled."""
    if charge.status == Charge.Status.PENDING or charge.failure_code in OUR_FAILURE_CODES:
        return
    approved = charge.status in (Charge.Status.SUCCEEDED, Charge.Status.REQUIRES_CAPTURE)
    signal_record(
        Signal.CHARGE_SUCCEEDED if approved else Signal.CHARGE_DECLINED,
        ip=ip,
        merchant_id=charge.merchant_id,
        session_id=session_id,
        fingerprint=fingerprint,
        client=api_client,
        reason=charge.failure_code,
    )


def _same_charge(
    existing: Charge, *, token: Token, amount: int, currency: str, capture_method: str
) -> Charge:
    asked = (token.pk, amount, currency, capture_method)
    if (existing.token_id, existing.amount, existing.currency, existing.capture_method) != asked:
        raise ChargeIdempotencyConflict(
            "A charge with different parameters already exists for this Idempotency-Key."
        )
    return existing


def charge_execute(
    *,
    charge: Charge,
    token: Token,
    cvc: str | None = None,
    card: ProcessorCard | None = None,
    now: datetime | None = None,
    on_settled: SettledHook | None = None,
) -> Charge:
    """Send a committed ``pending`` charge to the processor and record the answer. Safe to call
    again for the same charge: the processor deduplicates on the charge id. Never call it
    inside a transaction: the processor's side effect cannot be rolled back with ours.
    ``card``: revealed already, with the charge's intent (the token was checked there)."""
    if card is None:
        refusal = token_refusal(token=token, now=clock_now(now))
        if refusal:
            return charge_fail(charge=charge, failure_code=refusal, now=now, on_settled=on_settled)
    try:
        result = processor_charge_token(
            charge_id=charge.id,
            token=token,
            amount=charge.amount,
            currency=charge.currency,
            description=charge.description,
            cvc=cvc,
            card=card,
            capture=charge.capture_method == Charge.CaptureMethod.AUTOMATIC,
        )
    except TokenRefused as refused:
        # Revoked or lapsed between our check and the reveal: refuse, nothing was sent.
        return charge_fail(charge=charge, failure_code=refused.code, now=now, on_settled=on_settled)
    except ProcessorTimeout:
        logger.warning("charge_processor_timeout", extra={"charge": charge.id})
        return charge
    except ProcessorUnreachable:
        logger.warning("charge_processor_unreachable", extra={"charge": charge.id})
        return charge_fail(
            charge=charge, failure_code=PROCESSOR_UNAVAILABLE, now=now, on_settled=on_settled
        )
    return charge_settle(charge=charge, result=result, now=now, on_settled=on_settled)


def charge_fail(
    *,
    charge: Charge,
    failure_code: str,
    now: datetime | None = None,
    on_settled: SettledHook | None = None,
) -> Charge:
    """Settle a pending charge as failed without a processor answer (nothing was sent)."""
    return charge_settle(
        charge=charge,
        result=ProcessorCharge(
            processor_id="",
            approved=False,
            failure_code=failure_code,
            failure_message=FAILURE_MESSAGES.get(failure_code, ""),
        ),
        now=now,
        on_settled=on_settled,
    )


def charge_settle(
    *,
    charge: Charge,
    result: ProcessorCharge,
    now: datetime | None = None,
    on_settled: SettledHook | None = None,
) -> Charge:
    """Record the processor's answer on a pending charge, once: the UPDATE only matches while
    the row is still pending, so a reconcile racing the original request settles nothing
    twice. An approved authorization (manual capture) becomes ``requires_capture`` until
    ``authorization_expires_at``. ``on_settled`` (a subscription's schedule) runs in this same
    transaction; a subscription's charge is settled by billing only, which passes it."""
    if charge.subscription_id is not None and on_settled is None:
        raise ValueError("A subscription's charge is settled with its schedule: use billing.")
    now = clock_now(now)
    approved = result.approved
    held = approved and charge.capture_method == Charge.CaptureMethod.MANUAL
    fields: dict[str, object] = {
        "status": Charge.Status.FAILED,
        "failure_code": "" if approved else (result.failure_code or "card_declined"),
        "failure_message": "" if approved else result.failure_message[:200],
        "processor_id": result.processor_id,
        "settled_at": now,
    }
    if held:
        fields["status"] = Charge.Status.REQUIRES_CAPTURE
        fields["authorization_expires_at"] = now + timedelta(hours=settings.AUTHORIZATION_TTL_HOURS)
    elif approved:
        fields["status"] = Charge.Status.SUCCEEDED
        fields["amount_captured"] = charge.amount
        fields["captured_at"] = now
    with transaction.atomic():
        settled = row_update(
            Charge, where={"pk": charge.pk, "status": Charge.Status.PENDING}, values=fields
        )
        if not settled:
            charge.refresh_from_db()
            return charge  # settled already (a reconcile raced the original request)
        for name, value in fields.items():
            setattr(charge, name, value)
        if held:
            publish(ChargeAuthorized(charge_id=charge.pk, merchant_id=charge.merchant_id))
        else:
            outcome = ChargeSucceeded if approved else ChargeFailed
            publish(outcome(charge_id=charge.pk, merchant_id=charge.merchant_id, charge=charge))
        if on_settled is not None:
            on_settled(charge=charge, now=now)
        effect_settled(charge)  # the request's answer commits with the outcome
    return charge


def charge_get(*, merchant: Merchant, charge_id: str) -> Charge:
    charge = Charge.objects.owned_by(merchant).filter(pk=charge_id).select_related("token").first()
    if charge is None:
        raise ChargeNotFound("No such charge for this merchant.")
    return charge


def refund_get(*, merchant: Merchant, refund_id: str) -> Refund:
    refund = Refund.objects.owned_by(merchant).filter(pk=refund_id).first()
    if refund is None:
        raise RefundNotFound("No such refund for this merchant.")
    return refund


# --- reconcile ---------------------------------------------------------------------------------


def charge_reconcile(
    *, charge_id: str, now: datetime | None = None, on_settled: SettledHook | None = None
) -> Charge:
    """Settle a pending charge through the processor: its record of our idempotency key if it
    got the request, else the same request sent again (deduplicated if the first arrives) —
    unless a re-send could be a second charge (``checkout.payments.resend``): then it stays
    pending and an operator is alerted."""
    now = clock_now(now)
    charge = Charge.objects.select_related("token").get(pk=charge_id)
    if charge.status != Charge.Status.PENDING:
        return charge
    processor = get_processor(livemode=charge.livemode)
    known = processor.charge_lookup(idempotency_key=charge.id)
    if known is not None:
        charge = charge_settle(charge=charge, result=known, now=now, on_settled=on_settled)
    elif processor.charge_lookup_complete:  # it never arrived: sending now is the first send
        charge = charge_execute(charge=charge, token=charge.token, now=now, on_settled=on_settled)
    elif resend_stopped(
        processor=processor,
        object_type="charge",
        object_id=charge.pk,
        step="charge",
        idempotency_key=charge.id,
        first_sent_at=charge.created_at,
        now=now,
        # the vault will not reveal a revoked or expired card to send it again
        card_unavailable=bool(token_refusal(token=charge.token, now=now)),
    ):
        return charge
    else:
        charge = charge_execute(charge=charge, token=charge.token, now=now, on_settled=on_settled)
    charge_report(charge=charge, fingerprint=charge.token.fingerprint)
    return charge


def reconcile_cutoff(now: datetime) -> datetime:
    """Pending since before this, no original request can still be in flight (the setting
    exceeds the processor's request timeout)."""
    return now - timedelta(seconds=settings.CHARGE_RECONCILE_AFTER_SECONDS)


def charges_reconcile(*, now: datetime | None = None, limit: int = 500) -> int:
    """Reconcile pending charges (those of no subscription: billing reconciles its own), the
    in-flight steps of authorizations (capturing, releasing, expiring) and pending refunds
    older than ``CHARGE_RECONCILE_AFTER_SECONDS`` whose answer was lost, and alert an operator
    of the steps the processor accepted whose notification is overdue
    (``processor_answers_overdue``). Returns how many."""
    now = clock_now(now)
    cutoff = reconcile_cutoff(now)
    modes = modes_with_processor()
    charge_ids = list(
        Charge.objects.filter(
            status=Charge.Status.PENDING,
            created_at__lte=cutoff,
            subscription__isnull=True,
            livemode__in=modes,
        )
        .exclude(resend_stopped="charge")  # stopped: its notification settles it
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for charge_id in charge_ids:
        charge_reconcile(charge_id=charge_id, now=now)
    steps = authorization_steps_reconcile(cutoff=cutoff, modes=modes, now=now, limit=limit)
    refund_ids = list(
        Refund.objects.filter(
            status=Refund.Status.PENDING,
            created_at__lte=cutoff,
            livemode__in=modes,
            processor_id="",  # accepted ones await the processor's notification
            resend_stopped="",  # as do those that may not be re-sent any more
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for refund_id in refund_ids:
        refund_resend(refund=Refund.objects.select_related("charge").get(pk=refund_id), now=now)
    overdue = processor_answers_overdue(now=now, modes=modes, limit=limit)
    return len(charge_ids) + steps + len(refund_ids) + overdue


OVERDUE_RULE = "processor_answer_overdue"


def processor_answers_overdue(*, now: datetime, modes: Sequence[bool], limit: int = 500) -> int:
    """Raise one operator alert for each capture, release or refund the processor accepted
    for a later answer (``step_processor_id`` / a pending refund's ``processor_id``) that has
    had none for ``PROCESSOR_ANSWER_OVERDUE_SECONDS``. Nothing is re-sent: Adyen has no way
    to ask a modification's outcome, and a re-send after its idempotency keys lapse could
    capture or refund a second time. The operator finds the reference in the processor's
    console and has the notification sent again, which applies it. Returns the new alerts."""
    cutoff = now - timedelta(seconds=settings.PROCESSOR_ANSWER_OVERDUE_SECONDS)
    steps = Charge.objects.filter(
        status__in=IN_FLIGHT_STEPS,
        step_started_at__lte=cutoff,
        livemode__in=list(modes),
    ).exclude(step_processor_id="")
    refunds = Refund.objects.filter(
        status=Refund.Status.PENDING, created_at__lte=cutoff, livemode__in=list(modes)
    ).exclude(processor_id="")
    raised = 0
    for charge in steps.order_by("step_started_at")[:limit]:
        raised += _overdue_alert(
            object_id=charge.pk,
            step=charge.status,
            since=charge.step_started_at or now,
            reference=charge.step_processor_id,
            payment=charge.processor_id,
            now=now,
        )
    for refund in refunds.select_related("charge").order_by("created_at")[:limit]:
        raised += _overdue_alert(
            object_id=refund.pk,
            step="refund",
            since=refund.created_at,
            reference=refund.processor_id,
            payment=refund.charge.processor_id,
            now=now,
        )
    return raised


def _overdue_alert(
    *, object_id: str, step: str, since: datetime, reference: str, payment: str, now: datetime
) -> int:
    alert = alert_raise(
        rule=OVERDUE_RULE,
        source=object_id,
        since=since,
        observed=(now - since).total_seconds(),
        threshold=float(settings.PROCESSOR_ANSWER_OVERDUE_SECONDS),
        detail={"step": step, "processor_reference": reference, "payment_reference": payment},
    )
    if alert is None:
        return 0
    logger.error(
        "processor_answer_overdue", extra={"object": object_id, "step": step, "ref": reference}
    )
    return 1


# --- refunds -----------------------------------------------------------------------------------


def refund_create(
    *,
    merchant: Merchant,
    charge_id: str,
    amount: int | None = None,
    reason: str = "",
    metadata: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Refund:
    """Refund all or part of a succeeded charge's captured amount (an authorization's capture,
    not what it held). The amount is reserved on the charge before the processor is called,
    so concurrent refunds can never exceed what was captured."""
    if merchant.acting_livemode():
        live_mode_require()  # before anything is stored
    now = clock_now(now)
    text_validate(description=reason, metadata=metadata or {})
    with transaction.atomic():
        charge = Charge.objects.owned_by(merchant).select_for_update().filter(pk=charge_id).first()
        if charge is None:
            raise ChargeNotFound("No such charge for this merchant.")
        if charge.status != Charge.Status.SUCCEEDED:
            raise RefundNotAllowed(
                "Only a succeeded (captured) charge can be refunded.",
                code="charge_not_refundable",
            )
        remaining = charge.amount_captured - charge.amount_refunded
        amount = remaining if amount is None else amount
        if amount < 1 or amount > remaining:
            raise RefundNotAllowed(
                f"The refund must be between 1 and {remaining}, what is left of the charge.",
                code="refund_amount_too_large" if amount > remaining else "invalid_amount",
                errors=[FieldError("amount", "refund_amount_too_large", f"At most {remaining}.")],
            )
        refund = Refund.objects.create(
            merchant=merchant,
            livemode=charge.livemode,
            charge=charge,
            amount=amount,
            currency=charge.currency,
            reason=reason,
            metadata=dict(metadata or {}),
            created_at=now,
        )
        effect_bind(refund.pk)
        Charge.objects.filter(pk=charge.pk).update(amount_refunded=F("amount_refunded") + amount)
    return refund_execute(refund=refund, now=now)


def refund_resend(*, refund: Refund, now: datetime) -> Refund:
    """Send again a pending refund whose answer was lost, while the processor still keeps its
    idempotency key; past that, leave it pending and alert (``checkout.payments.resend``)."""
    if resend_stopped(
        processor=get_processor(livemode=refund.livemode),
        object_type="refund",
        object_id=refund.pk,
        step="refund",
        idempotency_key=refund.id,
        first_sent_at=refund.created_at,
        now=now,
    ):
        return refund
    return refund_execute(refund=refund, now=now)


def refund_execute(*, refund: Refund, now: datetime | None = None) -> Refund:
    try:
        result = get_processor(livemode=refund.livemode).refund(
            idempotency_key=refund.id,
            processor_charge_id=refund.charge.processor_id,
            amount=refund.amount,
            currency=refund.currency,
        )
    except ProcessorTimeout:
        return refund
    except ProcessorUnreachable:
        return _refund_settle(
            refund_id=refund.id, succeeded=False, code=PROCESSOR_UNAVAILABLE, now=now
        )
    if result.succeeded and result.pending:
        # Accepted; the processor's notification settles it (``refund_confirm``). Only while
        # pending: a notification that came first has settled it already.
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            processor_id=result.processor_id[:100]
        )
        refund.refresh_from_db()
        return refund
    return _refund_settle(
        refund_id=refund.id,
        succeeded=result.succeeded,
        code=result.failure_code,
        processor_id=result.processor_id,
        now=now,
    )


def refund_confirm(*, refund_id: str, processor_id: str, now: datetime) -> bool:
    """The processor confirms a pending refund (Adyen's ``REFUND`` true). True if it was
    pending; a refund failed already stays failed (a ``REFUND_FAILED`` that came first)."""
    with transaction.atomic():
        status = (
            Refund.objects.select_for_update().values_list("status", flat=True).get(pk=refund_id)
        )
        if status != Refund.Status.PENDING:
            return False
        _refund_settle(
            refund_id=refund_id, succeeded=True, code="", processor_id=processor_id, now=now
        )
    return True


def refund_refuse(*, refund_id: str, processor_id: str, now: datetime) -> bool:
    """The processor reports a refund failed (``REFUND`` false, or ``REFUND_FAILED`` after it
    was first confirmed): the refund fails and its amount is refundable again. True if that
    changed anything."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status == Refund.Status.FAILED:
            return False
        if refund.status == Refund.Status.PENDING:
            _refund_settle(
                refund_id=refund_id,
                succeeded=False,
                code="refund_failed",
                processor_id=processor_id,
                now=now,
            )
            return True
        refund.status = Refund.Status.FAILED
        refund.failure_code = "refund_failed"
        refund.settled_at = now
        refund.save(update_fields=["status", "failure_code", "settled_at"])
        Charge.objects.filter(pk=refund.charge_id).update(
            amount_refunded=F("amount_refunded") - refund.amount
        )
        publish(
            RefundFailed(
                refund_id=refund.pk, charge_id=refund.charge_id, merchant_id=refund.merchant_id
            )
        )
    return True


def _refund_settle(
    *,
    refund_id: str,
    succeeded: bool,
    code: str,
    processor_id: str = "",
    now: datetime | None = None,
) -> Refund:
    with transaction.atomic():
        refund = Refund.objects.select_for_update().select_related("charge").get(pk=refund_id)
        if refund.status != Refund.Status.PENDING:
            return refund
        refund.status = Refund.Status.SUCCEEDED if succeeded else Refund.Status.FAILED
        refund.failure_code = "" if succeeded else (code or "refund_failed")
        refund.processor_id = processor_id or refund.processor_id
        refund.settled_at = clock_now(now)
        refund.save(update_fields=["status", "failure_code", "processor_id", "settled_at"])
        settled_event = RefundSucceeded if succeeded else RefundFailed
        publish(
            settled_event(
                refund_id=refund.pk, charge_id=refund.charge_id, merchant_id=refund.merchant_id
            )
        )
        if not succeeded:  # give the reserved amount back
            Charge.objects.filter(pk=refund.charge_id).update(
                amount_refunded=F("amount_refunded") - refund.amount
            )
        effect_settled(refund)  # the request's answer commits with the outcome
    return refund


__all__ = [
    "charge_create",
    "charge_execute",
    "charge_fail",
    "charge_get",
    "charge_reconcile",
    "charge_settle",
    "charges_reconcile",
    "refund_confirm",
    "refund_create",
    "refund_refuse",
    "token_unusable",
]
