"""Authorizations: the capture, release and expiry of a charge made with ``capture=False``.

Each step is two transactions around one processor call, like a charge. First the step is
committed (``requires_capture`` → ``capturing`` / ``releasing`` / ``expiring``, under the
charge's row lock and as a conditional update, so of two concurrent captures one wins and the
other is refused), with its audit event and the request's idempotency record. Then the
processor is called with a key derived from the charge id (``capture_key``, ``void_key``) and
its answer recorded. A lost answer (timeout, unreachable, crash) leaves the step in flight —
the API answers ``202`` — and ``authorization_steps_reconcile`` sends the same request again,
which the processor answers with its first result: nothing is captured or released twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction

from checkout.clock import clock_now
from checkout.payments.errors import CaptureAmountInvalid, ChargeNotCapturable, ChargeNotFound
from checkout.payments.events import ChargeCaptured, ChargeExpired, ChargeFailed, ChargeReleased
from checkout.payments.models import Charge
from checkout.payments.processors import (
    ProcessorCapture,
    ProcessorTimeout,
    ProcessorUnreachable,
    ProcessorVoid,
    capture_key,
    get_processor,
    live_mode_require,
    void_key,
)
from checkout.payments.processors.base import modes_with_processor
from checkout.payments.resend import resend_stopped
from monitoring.audit.services import audit_record
from payments_site.kernel.errors import FieldError
from payments_site.kernel.events import publish
from payments_site.kernel.idempotency import effect_bind
from vault.models import Merchant

logger = logging.getLogger(__name__)

Status = Charge.Status
IN_FLIGHT = (Status.CAPTURING, Status.RELEASING, Status.EXPIRING)

REFUSALS: dict[str, tuple[str, str]] = {
    Status.SUCCEEDED: ("charge_already_captured", "This charge has been captured already."),
    Status.CAPTURING: ("charge_capture_in_progress", "A capture of this charge is in progress."),
    Status.RELEASING: ("charge_release_in_progress", "This authorization is being released."),
    Status.EXPIRING: ("authorization_expired", "This authorization has expired."),
    Status.EXPIRED: ("authorization_expired", "This authorization has expired."),
    Status.RELEASED: ("charge_released", "This authorization has been released."),
    Status.PENDING: ("charge_not_authorized", "This charge is not authorised (yet)."),
    Status.FAILED: ("charge_not_authorized", "This charge was not authorised."),
}
# A void the processor refused because nothing is held any more: the funds are released.
NOTHING_HELD = frozenset({"authorization_released", "authorization_not_found"})


def _refused(status: str) -> ChargeNotCapturable:
    code, message = REFUSALS[status]
    return ChargeNotCapturable(message, code=code)


def _refusal(charge: Charge, *, now: datetime) -> ChargeNotCapturable | None:
    """Why ``charge`` cannot be captured or released now, or None."""
    if charge.capture_method == Charge.CaptureMethod.AUTOMATIC:
        return ChargeNotCapturable(
            "This charge was captured when it was made.", code="charge_already_captured"
        )
    if charge.status == Status.REQUIRES_CAPTURE:
        if charge.authorization_expires_at is not None and charge.authorization_expires_at <= now:
            return _refused(Status.EXPIRED)
        return None
    return _refused(charge.status)


def _step_begin(
    *, merchant: Merchant, charge_id: str, step: str, now: datetime, amount: int | None = None
) -> Charge:
    """Commit the start of ``step`` (capturing or releasing) on the merchant's authorization."""
    with transaction.atomic():
        charge = Charge.objects.owned_by(merchant).select_for_update().filter(pk=charge_id).first()
        if charge is None:
            raise ChargeNotFound("No such charge for this merchant.")
        refusal = _refusal(charge, now=now)
        if refusal is not None:
            raise refusal
        fields: dict[str, object] = {"status": step, "step_started_at": now}
        if step == Status.CAPTURING:
            amount = charge.amount if amount is None else amount
            if not 1 <= amount <= charge.amount:
                raise CaptureAmountInvalid(
                    f"The capture must be between 1 and {charge.amount}, what is authorised.",
                    errors=[
                        FieldError(
                            "amount", "capture_amount_too_large", f"At most {charge.amount}."
                        )
                    ],
                )
            fields["capture_amount"] = amount
        updated = Charge.objects.filter(pk=charge.pk, status=Status.REQUIRES_CAPTURE).update(
            **fields
        )
        if updated != 1:  # unreachable under the row lock; refuse rather than act twice
            raise _refused(Status.CAPTURING)
        for name, value in fields.items():
            setattr(charge, name, value)
        effect_bind(charge.pk)
        audit_record(
            action="charge.capture" if step == Status.CAPTURING else "charge.release",
            actor=f"merchant:{merchant.pk}",
            object_type="charge",
            object_id=charge.pk,
            data={"amount": amount} if amount is not None else {},
        )
    return charge


def charge_capture(
    *, merchant: Merchant, charge_id: str, amount: int | None = None, now: datetime | None = None
) -> Charge:
    """Capture ``amount`` (default: all) of an authorization, once; the rest is released.
    Returns the charge ``succeeded`` (captured), ``failed`` (the card refused the capture) or
    ``capturing`` (answer lost: reconciled). Raises ``ChargeNotCapturable`` when it was
    captured, released or expired already, or a capture is in flight."""
    if merchant.acting_livemode():
        live_mode_require()
    now = clock_now(now)
    charge = _step_begin(
        merchant=merchant, charge_id=charge_id, step=Status.CAPTURING, now=now, amount=amount
    )
    return capture_send(charge=charge, now=now)


def charge_release(*, merchant: Merchant, charge_id: str, now: datetime | None = None) -> Charge:
    """Release (void) an uncaptured authorization: ``released``, or ``releasing`` while the
    processor's answer is outstanding."""
    if merchant.acting_livemode():
        live_mode_require()
    now = clock_now(now)
    charge = _step_begin(merchant=merchant, charge_id=charge_id, step=Status.RELEASING, now=now)
    return void_send(charge=charge, now=now)


def capture_send(*, charge: Charge, now: datetime | None = None) -> Charge:
    """Send (or send again) a ``capturing`` charge's capture and record the answer. Never
    inside a transaction: the processor's effect cannot be rolled back with ours."""
    amount = charge.capture_amount or charge.amount  # set with the capturing status
    try:
        result = get_processor(livemode=charge.livemode).capture(
            idempotency_key=capture_key(charge.id),
            processor_charge_id=charge.processor_id,
            amount=amount,
            currency=charge.currency,
        )
    except (ProcessorTimeout, ProcessorUnreachable):
        logger.warning("charge_capture_unanswered", extra={"charge": charge.id})
        return charge
    return _capture_record(charge=charge, result=result, now=clock_now(now))


def _capture_record(*, charge: Charge, result: ProcessorCapture, now: datetime) -> Charge:
    if result.succeeded and result.pending:
        return _step_accepted(charge=charge, step=Status.CAPTURING, reference=result.processor_id)
    if result.succeeded:
        fields: dict[str, object] = {
            "status": Status.SUCCEEDED,
            "amount_captured": charge.capture_amount,
            "captured_at": now,
            "step_started_at": None,
        }
        event: type[ChargeCaptured | ChargeFailed] = ChargeCaptured
    else:  # refused at capture: the processor released the hold
        fields = {
            "status": Status.FAILED,
            "failure_code": result.failure_code or "capture_declined",
            "failure_message": result.failure_message[:200],
            "released_at": now,
            "step_started_at": None,
        }
        event = ChargeFailed
    return _step_end(charge=charge, step=Status.CAPTURING, fields=fields, event=event)


def void_send(*, charge: Charge, now: datetime | None = None) -> Charge:
    """Send (or send again) a ``releasing`` or ``expiring`` charge's void; record the answer."""
    try:
        result = get_processor(livemode=charge.livemode).void(
            idempotency_key=void_key(charge.id), processor_charge_id=charge.processor_id
        )
    except (ProcessorTimeout, ProcessorUnreachable):
        logger.warning("charge_void_unanswered", extra={"charge": charge.id})
        return charge
    return _void_record(charge=charge, result=result, now=clock_now(now))


def _void_record(*, charge: Charge, result: ProcessorVoid, now: datetime) -> Charge:
    if not result.succeeded and result.failure_code not in NOTHING_HELD:
        # The processor says the hold was captured: ours never was. Leave it for a person.
        logger.error(
            "charge_void_refused", extra={"charge": charge.id, "code": result.failure_code}
        )
        return charge
    if result.succeeded and result.pending:
        return _step_accepted(charge=charge, step=charge.status, reference=result.processor_id)
    return _released(charge=charge, now=now)


def _released(*, charge: Charge, now: datetime) -> Charge:
    """End a void: an ``expiring`` charge is expired, any other released."""
    expiring = charge.status == Status.EXPIRING
    return _step_end(
        charge=charge,
        step=charge.status,
        fields={
            "status": Status.EXPIRED if expiring else Status.RELEASED,
            "released_at": now,
            "step_started_at": None,
        },
        event=ChargeExpired if expiring else ChargeReleased,
    )


def _step_end(
    *,
    charge: Charge,
    step: str,
    fields: dict[str, object],
    event: type[ChargeCaptured | ChargeFailed | ChargeReleased | ChargeExpired],
) -> Charge:
    """Record the end of ``step`` once: only while the row is still in that step, so the
    original request and a reconcile racing it end nothing twice."""
    with transaction.atomic():
        ended = Charge.objects.filter(pk=charge.pk, status=step).update(**fields)
        if not ended:
            charge.refresh_from_db()
            return charge
        for name, value in fields.items():
            setattr(charge, name, value)
        publish(event(charge_id=charge.pk, merchant_id=charge.merchant_id))
    return charge


def _step_accepted(*, charge: Charge, step: str, reference: str) -> Charge:
    """The processor accepted the step and answers later (a notification): note its
    reference, so reconciliation waits for that answer instead of re-sending. Only while the
    step is still in flight: a notification that came first has ended it already."""
    Charge.objects.filter(pk=charge.pk, status=step).update(step_processor_id=reference[:100])
    charge.refresh_from_db()
    return charge


# --- the processor's later word (notifications) ------------------------------------------------

# How a notification left our record: applied, nothing to change, or in conflict with it (the
# caller raises an operator alert).
APPLIED, UNCHANGED, CONFLICT = "applied", "unchanged", "conflict"
CAPTURE_FAILED_MESSAGE = "The card's issuer refused the capture; the authorization was released."


def capture_confirm(*, charge_id: str, amount: int | None, now: datetime) -> str:
    """The processor confirms a capture of ``amount`` (default: what we asked for). Ends a
    ``capturing`` step, or captures a ``requires_capture`` authorization captured elsewhere
    (the processor's own console). A captured or failed charge is left as it is, so a late
    confirmation after a capture failure changes nothing."""
    with transaction.atomic():
        charge = Charge.objects.select_for_update().get(pk=charge_id)
        if charge.status not in (Status.CAPTURING, Status.REQUIRES_CAPTURE):
            if charge.status in (Status.SUCCEEDED, Status.FAILED):
                return UNCHANGED
            return CONFLICT  # released or expired here, captured there
        if amount is not None and not 1 <= amount <= charge.amount:
            return CONFLICT  # more than was authorised: not a capture of this charge
        captured = amount if amount is not None else charge.capture_amount or charge.amount
        fields: dict[str, object] = {
            "status": Status.SUCCEEDED,
            "amount_captured": captured,
            "capture_amount": captured,
            "captured_at": now,
            "step_started_at": None,
        }
        _step_end(charge=charge, step=charge.status, fields=fields, event=ChargeCaptured)
    return APPLIED


def capture_refuse(*, charge_id: str, reason: str, now: datetime) -> str:
    """The processor reports a capture failed (Adyen: ``CAPTURE`` false, or ``CAPTURE_FAILED``
    after it was first accepted): the charge fails and nothing is captured. A charge already
    refunded in part cannot be undone here: a conflict, for a person."""
    with transaction.atomic():
        charge = Charge.objects.select_for_update().get(pk=charge_id)
        if charge.status == Status.FAILED:
            return UNCHANGED
        if charge.status not in (Status.CAPTURING, Status.REQUIRES_CAPTURE, Status.SUCCEEDED):
            return CONFLICT
        if charge.status == Status.SUCCEEDED and charge.amount_refunded:
            return CONFLICT
        fields: dict[str, object] = {
            "status": Status.FAILED,
            "amount_captured": 0,
            "captured_at": None,
            "failure_code": "capture_failed",
            "failure_message": (reason or CAPTURE_FAILED_MESSAGE)[:200],
            "released_at": now,
            "step_started_at": None,
        }
        _step_end(charge=charge, step=charge.status, fields=fields, event=ChargeFailed)
    return APPLIED


def void_confirm(*, charge_id: str, now: datetime) -> str:
    """The processor confirms a release (Adyen's ``CANCELLATION``): ends a ``releasing`` or
    ``expiring`` step, or releases an authorization cancelled elsewhere."""
    with transaction.atomic():
        charge = Charge.objects.select_for_update().get(pk=charge_id)
        if charge.status in (Status.RELEASED, Status.EXPIRED):
            return UNCHANGED
        if charge.status not in (Status.RELEASING, Status.EXPIRING, Status.REQUIRES_CAPTURE):
            return CONFLICT
        _released(charge=charge, now=now)
    return APPLIED


def charges_expire(*, now: datetime | None = None, limit: int = 500) -> int:
    """Release the authorizations whose ``authorization_expires_at`` has passed
    (``AUTHORIZATION_TTL_HOURS`` after they were approved): ``expiring``, then ``expired`` once
    the processor voided the hold. Run by beat and ``manage.py expire_authorizations``; safe
    to run anywhere at once."""
    now = clock_now(now)
    due = list(
        Charge.objects.filter(
            status=Status.REQUIRES_CAPTURE,
            authorization_expires_at__lte=now,
            livemode__in=modes_with_processor(),
        )
        .order_by("authorization_expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for charge_id in due:
        with transaction.atomic():
            claimed = Charge.objects.filter(pk=charge_id, status=Status.REQUIRES_CAPTURE).update(
                status=Status.EXPIRING, step_started_at=now
            )
            if not claimed:
                continue  # captured or released meanwhile, or another pass took it
            audit_record(action="charge.expire", object_type="charge", object_id=charge_id)
        void_send(charge=Charge.objects.get(pk=charge_id), now=now)
        expired += 1
    return expired


def authorization_steps_reconcile(
    *, cutoff: datetime, modes: Sequence[bool], now: datetime, limit: int = 500
) -> int:
    """Send again the captures and voids in flight since before ``cutoff`` (their answer was
    lost); the processor deduplicates on the derived keys. Returns how many."""
    charges = list(
        Charge.objects.filter(
            status__in=IN_FLIGHT,
            step_started_at__lte=cutoff,
            livemode__in=list(modes),
            step_processor_id="",  # accepted ones await the processor's notification
        )
        # as do captures that may not be re-sent any more (a release after them still may)
        .exclude(status=Status.CAPTURING, resend_stopped="capture")
        .order_by("step_started_at")[:limit]
    )
    for charge in charges:
        if charge.status != Status.CAPTURING:
            void_send(charge=charge, now=now)  # a second void releases nothing more
            continue
        if not resend_stopped(
            processor=get_processor(livemode=charge.livemode),
            object_type="charge",
            object_id=charge.pk,
            step="capture",
            idempotency_key=capture_key(charge.id),
            first_sent_at=charge.step_started_at or charge.created_at,
            now=now,
        ):
            capture_send(charge=charge, now=now)
    return len(charges)


__all__ = [
    "authorization_steps_reconcile",
    "capture_confirm",
    "capture_refuse",
    "capture_send",
    "charge_capture",
    "charge_release",
    "charges_expire",
    "void_confirm",
    "void_send",
]
