"""Subscriptions and the billing runner's unit of work.

Exactly one charge per subscription period, under any number of workers and repeated task
deliveries, comes from three things working together:

1. ``subscription_bill`` locks the due row with ``select_for_update(skip_locked=True)``: a
   second worker skips it instead of waiting;
2. in the same transaction it inserts the pending charge and sets ``next_billing_at`` to NULL,
   so once committed the subscription is no longer due for anyone;
3. unique constraints on ``Charge`` — one per (subscription, period, attempt), one pending or
   succeeded per (subscription, period) — make a second charge impossible even if 1 and 2 were
   bypassed (SQLite has no row locks; there its write lock serialises the same steps).

A worker that dies mid-charge leaves a pending charge; the reconcile job settles it through
the processor, which advances the subscription exactly as a normal answer would
(``subscription_charges_reconcile``: billing settles its own charges, with their schedules).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from checkout.billing.errors import SubscriptionNotFound
from checkout.billing.events import (
    SubscriptionCanceled,
    SubscriptionCreated,
    SubscriptionEvent,
    SubscriptionPastDue,
    SubscriptionRenewed,
    SubscriptionUpdated,
)
from checkout.billing.models import Subscription
from checkout.billing.schedule import MAX_INTERVAL_COUNT, Interval, dunning_retry_at, period_bounds
from checkout.clock import clock_now
from checkout.customers.events import CustomerDeleted
from checkout.customers.selectors import customer_default_token_id
from checkout.customers.services import customer_card_for_billing
from checkout.payments.models import Charge
from checkout.payments.processors.base import (
    live_mode_require,
    live_processor_configured,
    modes_with_processor,
    processor_name,
)
from checkout.payments.services import (
    charge_execute,
    charge_fail,
    charge_reconcile,
    charge_report,
    charges_reconcile,
    reconcile_cutoff,
)
from checkout.payments.tokens import token_for_charge, token_refusal
from checkout.payments.validation import amount_validate, text_validate
from monitoring.security.cooloff import cooloff_check, cooloff_enforce
from payments_site.kernel.errors import FieldError, InvalidInput
from payments_site.kernel.events import publish
from payments_site.kernel.idempotency import effect_bind
from vault.events import MerchantReactivated, TokenRevoked
from vault.models import Merchant

logger = logging.getLogger(__name__)

BILLABLE = (Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE)
START_TOLERANCE = timedelta(minutes=10)
MAX_START_AHEAD = timedelta(days=5 * 366)


def subscription_create(
    *,
    merchant: Merchant,
    token_id: str | None = None,
    customer_id: str | None = None,
    amount: int,
    currency: str,
    interval: str,
    interval_count: int = 1,
    start: datetime | None = None,
    description: str = "",
    metadata: Mapping[str, str] | None = None,
    now: datetime | None = None,
    first_period_paid_by: Charge | None = None,
    api_client: str | None = None,
) -> Subscription:
    """Put a token on a schedule. Period 0 starts at ``start`` (default: now) and is billed
    then; later periods keep the anchor's day of month, clamped at month end.

    ``first_period_paid_by``: a succeeded charge of this card and amount, made just now (a
    subscription checkout's first payment; made under another token of the same card when the
    customer had that card saved already). It becomes period 0's payment, so it is listed
    with the subscription's charges and the current period is the one it paid for; billing
    starts at period 1.

    ``api_client`` (``api_client_source``) is the merchant's server asking: the first charge is
    counted against it, and like ``charge_create`` this refuses (``SourceCoolingOff``) while
    that client or the card cools off.

    With ``customer_id`` the token must be one of the customer's cards; without a token the
    subscription bills the customer's default card, whichever it is at each attempt (a new
    default is charged from the next renewal on).
    """
    if token_id is None and customer_id is None:
        raise InvalidInput(
            errors=[FieldError("token", "required", "Give a token, or a customer with a card.")]
        )
    if merchant.acting_livemode():
        live_mode_require()  # a live schedule needs a live processor; refused before storing
    amount, currency = amount_validate(amount=amount, currency=currency)
    metadata = dict(metadata or {})
    text_validate(description=description, metadata=metadata)
    if interval not in Interval.__members__.values():
        raise InvalidInput(
            errors=[FieldError("interval", "invalid_choice", "Use day, week, month or year.")]
        )
    limit = MAX_INTERVAL_COUNT[Interval(interval)]
    if not 1 <= interval_count <= limit:
        raise InvalidInput(
            errors=[
                FieldError(
                    "interval_count",
                    "invalid_interval_count",
                    f"Use 1 to {limit} for a {interval} interval.",
                )
            ]
        )
    now = clock_now(now)
    anchor = start or now
    if anchor.tzinfo is None:
        raise InvalidInput(
            errors=[FieldError("start", "invalid", "Give a time zone, e.g. 2030-01-31T00:00:00Z.")]
        )
    # Back-dating would bill every period since ``start`` at once; far futures are typos.
    if anchor < now - START_TOLERANCE:
        raise InvalidInput(
            errors=[FieldError("start", "start_in_past", "The start cannot be in the past.")]
        )
    if anchor > now + MAX_START_AHEAD:
        raise InvalidInput(
            errors=[FieldError("start", "start_too_far", "Start within the next five years.")]
        )
    with transaction.atomic():
        customer, card = None, token_id
        if customer_id is not None:
            customer, card = customer_card_for_billing(
                merchant=merchant, customer_id=customer_id, token_id=token_id
            )
        assert card is not None  # noqa: S101 - a token or a customer's card, checked above
        token = token_for_charge(merchant=merchant, token_id=card, now=now)
        if first_period_paid_by is None:  # a paid checkout passed these checks already
            cooloff_enforce(fingerprint=token.fingerprint, client=api_client)
        subscription = Subscription.objects.create(
            merchant=merchant,
            livemode=merchant.acting_livemode(),
            token=token,
            customer=customer,
            uses_customer_default=customer is not None and token_id is None,
            amount=amount,
            currency=currency,
            interval=interval,
            interval_count=interval_count,
            anchor=anchor,
            description=description,
            metadata=metadata,
            next_billing_at=anchor,
            created_at=now,
        )
        effect_bind(subscription.pk)
        if first_period_paid_by is not None:
            _first_period_paid(subscription, first_period_paid_by)
        publish(
            SubscriptionCreated(
                subscription_id=subscription.pk,
                merchant_id=merchant.pk,
                first_period_due=subscription.period == 0 and anchor <= now,
                api_client=api_client or "",
            )
        )
    return subscription


def _first_period_paid(subscription: Subscription, charge: Charge) -> None:
    # The same card: this token, or another of this merchant's and mode's with its fingerprint.
    linked = (
        Charge.objects.owned_by(subscription.owner)
        .filter(
            pk=charge.pk,
            token__fingerprint=subscription.token.fingerprint,
            amount=subscription.amount,
            currency=subscription.currency,
            status=Charge.Status.SUCCEEDED,
            subscription__isnull=True,
        )
        .update(subscription=subscription, period=0, attempt=1)
    )
    if not linked:
        raise ValueError("The first period can only be paid by a matching, unlinked charge.")
    subscription.period = 1
    subscription.next_billing_at = _bounds(subscription, 1)[0]
    subscription.save(update_fields=["period", "next_billing_at"])


def subscription_get(*, merchant: Merchant, subscription_id: str) -> Subscription:
    subscription = Subscription.objects.owned_by(merchant).filter(pk=subscription_id).first()
    if subscription is None:
        raise SubscriptionNotFound("No such subscription for this merchant.")
    return subscription


def subscription_cancel(
    *,
    merchant: Merchant,
    subscription_id: str,
    at_period_end: bool = False,
    now: datetime | None = None,
) -> Subscription:
    """Cancel now, or at the end of the paid period (the next renewal does not happen).
    Canceling a canceled subscription returns it unchanged."""
    now = clock_now(now)
    with transaction.atomic():
        subscription = (
            Subscription.objects.owned_by(merchant)
            .select_for_update()
            .filter(pk=subscription_id)
            .first()
        )
        if subscription is None:
            raise SubscriptionNotFound("No such subscription for this merchant.")
        effect_bind(subscription.pk)
        if subscription.status == Subscription.Status.CANCELED:
            return subscription
        if at_period_end:
            subscription.cancel_at_period_end = True
            subscription.save(update_fields=["cancel_at_period_end"])
            _announce(SubscriptionUpdated, subscription)
        else:
            _cancel(subscription, reason="requested", now=now)
    return subscription


def _cancel(subscription: Subscription, *, reason: str, now: datetime) -> None:
    subscription.status = Subscription.Status.CANCELED
    subscription.status_reason = reason
    subscription.canceled_at = now
    subscription.next_billing_at = None
    subscription.save(update_fields=["status", "status_reason", "canceled_at", "next_billing_at"])
    _announce(SubscriptionCanceled, subscription)


def _announce(event: type[SubscriptionEvent], subscription: Subscription) -> None:
    publish(event(subscription_id=subscription.pk, merchant_id=subscription.merchant_id))


def subscriptions_on_token_revoked(event: TokenRevoked) -> int:
    """Subscribed to the vault's ``TokenRevoked``: live subscriptions on the token go
    ``past_due`` (reason ``token_revoked``); their next attempt fails without reaching the
    processor (the token is refused whatever happens here) and dunning runs its course."""
    with transaction.atomic():
        affected = list(
            Subscription.objects.select_for_update().filter(
                token_id=event.token_id, status__in=BILLABLE
            )
        )
        for subscription in affected:
            subscription.status = Subscription.Status.PAST_DUE
            subscription.status_reason = "token_revoked"
            subscription.save(update_fields=["status", "status_reason"])
            _announce(SubscriptionPastDue, subscription)
    return len(affected)


def subscriptions_on_customer_deleted(
    event: CustomerDeleted, *, now: datetime | None = None
) -> int:
    """Subscribed to ``CustomerDeleted``: the customer's live subscriptions are canceled
    (reason ``customer_deleted``). Should this be lost, the next billing attempt cancels them
    instead of charging (``subscription_bill``)."""
    now = clock_now(now)
    with transaction.atomic():
        affected = list(
            Subscription.objects.select_for_update().filter(
                customer_id=event.customer_id, status__in=BILLABLE
            )
        )
        for subscription in affected:
            _cancel(subscription, reason="customer_deleted", now=now)
    return len(affected)


def _card_follow(subscription: Subscription, *, now: datetime) -> bool:
    """Before an attempt (on the locked row): a deleted customer's subscription is canceled
    (False: no attempt), and one billing the customer's default card charges the current one."""
    customer = subscription.customer
    if customer is None:
        return True
    if customer.deleted:
        _cancel(subscription, reason="customer_deleted", now=now)
        return False
    if subscription.uses_customer_default:
        default = customer_default_token_id(customer)
        if default is not None and default != subscription.token_id:
            subscription.token_id = default
            subscription.save(update_fields=["token"])
    return True


def subscriptions_on_merchant_reactivated(
    event: MerchantReactivated, *, now: datetime | None = None
) -> int:
    """Subscribed to the vault's ``MerchantReactivated``. Renewals that fell due while the
    merchant was suspended are not back-billed (as Stripe's paused collection voids them): an
    active subscription resumes at its first period starting after reactivation. A past-due
    subscription's dunning goes on where it stopped (its retries that fell due meanwhile run
    one per billing pass), and one set to cancel at period end is canceled on the next pass."""
    now = clock_now(now)
    with transaction.atomic():
        missed = Subscription.objects.select_for_update().filter(
            merchant_id=event.merchant_id,
            livemode__in=(False, True),  # suspension stops both modes; so resuming covers both
            status=Subscription.Status.ACTIVE,
            failed_attempts=0,
            cancel_at_period_end=False,
            next_billing_at__lt=now,
        )
        resumed = 0
        for subscription in missed:
            index = subscription.period
            while _bounds(subscription, index)[0] < now:
                index += 1
            subscription.period = index
            subscription.next_billing_at = _bounds(subscription, index)[0]
            subscription.save(update_fields=["period", "next_billing_at"])
            resumed += 1
    return resumed


def subscriptions_due(*, now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Ids of subscriptions whose next billing time has come, oldest first."""
    return list(
        Subscription.objects.filter(
            status__in=BILLABLE,
            next_billing_at__lte=clock_now(now),
            livemode__in=modes_with_processor(),
            merchant__is_active=True,
        )
        .order_by("next_billing_at")
        .values_list("pk", flat=True)[:limit]
    )


def subscription_bill(
    *, subscription_id: str, now: datetime | None = None, api_client: str | None = None
) -> Charge | None:
    """Bill one due subscription: one attempt for its current period. Returns the charge, or
    None when there was nothing to do (not due, canceled, or another worker has it) or the
    card cools off after a card-testing rule: then the attempt is postponed to the end of the
    cool-off, without reaching the processor and without counting as a failed attempt.
    ``api_client``: the API client that created the subscription, for period 0's charge."""
    now = clock_now(now)
    try:
        with transaction.atomic():
            subscription = (
                # ``of=self``: the merchant join must not lock (and so skip) the merchant row,
                # which every sibling subscription being billed at the same moment shares.
                Subscription.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("token")  # read here once, for the cool-off and the charge
                .filter(
                    pk=subscription_id,
                    status__in=BILLABLE,
                    next_billing_at__lte=now,
                    merchant__is_active=True,  # a suspended merchant moves no money
                )
                .first()
            )
            if subscription is None:
                return None
            if subscription.livemode and not live_processor_configured():
                # Nothing to charge it with: it stays due, and is billed once there is.
                logger.warning(
                    "subscription_bill_live_unavailable", extra={"subscription": subscription_id}
                )
                return None
            if subscription.cancel_at_period_end and subscription.failed_attempts == 0:
                _cancel(subscription, reason="requested", now=now)
                return None
            if not _card_follow(subscription, now=now):
                return None
            if _postponed(subscription, api_client=api_client, now=now):
                return None
            start, end = _bounds(subscription, subscription.period)
            charge = Charge.objects.create(
                merchant_id=subscription.merchant_id,
                livemode=subscription.livemode,
                token_id=subscription.token_id,
                amount=subscription.amount,
                currency=subscription.currency,
                description=subscription.description
                or f"Subscription {subscription.id}, {start:%Y-%m-%d} to {end:%Y-%m-%d}",
                metadata=subscription.metadata,
                processor=processor_name(livemode=subscription.livemode),
                subscription=subscription,
                period=subscription.period,
                attempt=subscription.failed_attempts + 1,
                created_at=now,
            )
            subscription.next_billing_at = None  # claimed: due for nobody else
            subscription.save(update_fields=["next_billing_at"])
    except IntegrityError:
        # Only reachable without row locks: someone else created this attempt first.
        logger.info("subscription_bill_lost_race", extra={"subscription": subscription_id})
        return None
    token = subscription.token
    refusal = token_refusal(token=token, now=now)
    if refusal:
        return charge_fail(
            charge=charge,
            failure_code=refusal,
            now=now,
            on_settled=subscription_charge_settled,
        )
    charge = charge_execute(
        charge=charge, token=token, now=now, on_settled=subscription_charge_settled
    )
    charge_report(charge=charge, fingerprint=token.fingerprint, api_client=api_client)
    return charge


def _postponed(subscription: Subscription, *, api_client: str | None, now: datetime) -> bool:
    """While the card (or the client that asked for the subscription) cools off, move the
    attempt to the end of the cool-off (on the locked row)."""
    cooloff = cooloff_check(fingerprint=subscription.token.fingerprint, client=api_client)
    if cooloff is None:
        return False
    subscription.next_billing_at = now + timedelta(seconds=cooloff.retry_after)
    subscription.save(update_fields=["next_billing_at"])
    logger.warning(
        "subscription_bill_cooling_off",
        extra={
            "subscription": subscription.pk,
            "scope": cooloff.scope,
            "until": cooloff.retry_after,
        },
    )
    return True


def subscription_charges_reconcile(*, now: datetime | None = None, limit: int = 500) -> int:
    """Settle subscription charges left pending by a lost answer or a dead worker, each with
    its schedule (``charge_reconcile`` with ``subscription_charge_settled``)."""
    now = clock_now(now)
    charge_ids = list(
        Charge.objects.filter(
            status=Charge.Status.PENDING,
            created_at__lte=reconcile_cutoff(now),
            subscription__isnull=False,
            livemode__in=modes_with_processor(),
        )
        .exclude(resend_stopped="charge")  # stopped: its notification settles it
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for charge_id in charge_ids:
        charge_reconcile(charge_id=charge_id, now=now, on_settled=subscription_charge_settled)
    return len(charge_ids)


def pending_reconcile(*, now: datetime | None = None) -> int:
    """Everything lost answers left pending: charges and refunds, then subscription charges
    with their schedules. The reconcile job and ``run_billing`` run this."""
    return charges_reconcile(now=now) + subscription_charges_reconcile(now=now)


def subscription_charge_settled(*, charge: Charge, now: datetime) -> None:
    """Advance the subscription after its charge settled: ``charge_settle``'s ``on_settled``,
    inside its transaction, so the charge's outcome and the schedule change commit together."""
    subscription = Subscription.objects.select_for_update().get(pk=charge.subscription_id)
    if charge.period != subscription.period or charge.attempt != subscription.failed_attempts + 1:
        logger.warning("subscription_stale_charge", extra={"charge": charge.id})
        return
    if subscription.status == Subscription.Status.CANCELED:
        return  # canceled while the charge was in flight: the schedule stays stopped
    if charge.status == Charge.Status.SUCCEEDED:
        subscription.period += 1
        subscription.failed_attempts = 0
        subscription.status = Subscription.Status.ACTIVE
        subscription.status_reason = ""
        subscription.next_billing_at = _bounds(subscription, subscription.period)[0]
    else:
        subscription.failed_attempts += 1
        retry_at = dunning_retry_at(
            first_failure_due=_bounds(subscription, subscription.period)[0],
            failed_attempts=subscription.failed_attempts,
            schedule_days=settings.SUBSCRIPTION_DUNNING_DAYS,
        )
        if retry_at is None:
            _cancel(subscription, reason=charge.failure_code or "payment_failed", now=now)
            return
        subscription.status = Subscription.Status.PAST_DUE
        subscription.status_reason = charge.failure_code or "payment_failed"
        subscription.next_billing_at = retry_at
    subscription.save(
        update_fields=["period", "failed_attempts", "status", "status_reason", "next_billing_at"]
    )
    renewed = charge.status == Charge.Status.SUCCEEDED
    _announce(SubscriptionRenewed if renewed else SubscriptionPastDue, subscription)


def _bounds(subscription: Subscription, index: int) -> tuple[datetime, datetime]:
    return period_bounds(
        anchor=subscription.anchor,
        interval=subscription.interval,
        interval_count=subscription.interval_count,
        index=index,
    )


def subscription_current_period(subscription: Subscription) -> tuple[datetime, datetime]:
    """The period the customer is in: the one being billed while it is unpaid, else the last
    paid one."""
    index = subscription.period
    if subscription.failed_attempts == 0 and index > 0:
        index -= 1
    return _bounds(subscription, index)
