"""Recording webhook events: every domain event a merchant can hear of becomes an ``Event``.

Webhooks learn of changes only through the domains' events (``payments_site.kernel.events``),
heard once the change is committed: ``events_on_domain_event`` (subscribed in
``CheckoutConfig.ready``) writes the ``Event`` and its deliveries in one transaction, then
hands the deliveries to the workers once that commits; a lost hand-off is picked up by the
next ``webhooks_enqueue_due`` pass, because the delivery row, not the queue, is the record.

Domain event → webhook event types (``WEBHOOK_EVENTS``):

- ``ChargeSucceeded`` / ``ChargeFailed`` → ``charge.succeeded`` / ``charge.failed``;
- ``ChargeAuthorized|Captured|Released|Expired`` → ``charge.<the same>`` (an authorization's
  steps: funds held, captured, released by the merchant, released at expiry);
- ``RefundSucceeded`` → ``refund.succeeded`` (the refund) **and** ``charge.refunded`` (the
  charge, with its new ``amount_refunded``), Stripe's name for it; ``RefundFailed`` →
  ``refund.failed``;
- ``SubscriptionCreated|Updated|Renewed|PastDue|Canceled`` → ``subscription.<the same>``;
- ``CheckoutSessionCompleted`` → ``checkout.session.completed``;
- ``CheckoutSessionExpired`` → ``checkout.session.expired``;
- the vault's ``TokenRevoked`` → ``token.revoked``, with the token's masked metadata;
- ``CustomerCreated|Updated|Deleted`` → ``customer.<the same>`` (a deleted customer's data is
  erased before the event is written); ``CustomerCardAttached|Detached`` →
  ``customer.card.attached|detached`` with the saved card (the token's masked metadata).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Model

from checkout.billing.events import (
    SubscriptionCanceled,
    SubscriptionCreated,
    SubscriptionEvent,
    SubscriptionPastDue,
    SubscriptionRenewed,
    SubscriptionUpdated,
)
from checkout.billing.models import Subscription
from checkout.clock import clock_now
from checkout.customers.events import (
    CustomerCardAttached,
    CustomerCardDetached,
    CustomerCreated,
    CustomerDeleted,
    CustomerEvent,
    CustomerUpdated,
)
from checkout.customers.models import Customer, CustomerCard
from checkout.payments.events import (
    ChargeAuthorized,
    ChargeCaptured,
    ChargeExpired,
    ChargeFailed,
    ChargeReleased,
    ChargeSucceeded,
    RefundFailed,
    RefundSucceeded,
)
from checkout.payments.models import Charge, Refund
from checkout.sessions.events import CheckoutSessionCompleted, CheckoutSessionExpired
from checkout.sessions.models import CheckoutSession
from checkout.webhooks.delivery import DeliveriesDue
from checkout.webhooks.models import Event, EventType, WebhookDelivery, WebhookEndpoint
from checkout.webhooks.payloads import API_VERSION, event_document, object_snapshot, object_type
from payments_site.kernel.events import DomainEvent, publish
from payments_site.kernel.ids import new_id
from payments_site.kernel.rows import PreparedQuery, row_insert
from vault.events import TokenRevoked
from vault.models import Token


def event_record(*, event_type: str, obj: Model, now: datetime | None = None) -> Event:
    """Write the event for ``obj`` (in its mode) and queue it for every enabled endpoint of
    that merchant and mode that wants it."""
    now = clock_now(now)
    event = Event(
        id=new_id("evt"),
        merchant_id=obj.merchant_id,  # type: ignore[attr-defined]
        livemode=obj.livemode,  # type: ignore[attr-defined]
        type=EventType(event_type),
        api_version=API_VERSION,
        object_type=object_type(obj),
        object_id=str(obj.pk),
        created_at=now,
    )
    event.payload = event_document(
        event_id=event.id,
        event_type=event.type,
        created=now,
        livemode=event.livemode,
        snapshot=object_snapshot(obj),
    )
    if "merchant" in obj._state.fields_cache:  # loaded with the object: no query for it again
        event.merchant = obj.merchant  # type: ignore[attr-defined]
    row_insert(event)
    _deliveries_create(event=event, now=now)
    return event


# On every event: compiled once per mode.
_LISTENING = PreparedQuery(
    WebhookEndpoint,
    lambda livemode, *, merchant_id: (
        WebhookEndpoint.objects.filter(
            merchant_id=merchant_id,
            livemode=livemode,
            status=WebhookEndpoint.Status.ENABLED,
            deleted_at__isnull=True,
        )
        .order_by()
        .values_list("pk", "enabled_events")
    ),
)


def _deliveries_create(*, event: Event, now: datetime) -> list[int]:
    endpoints = _LISTENING.all(event.livemode, merchant_id=event.merchant_id)
    wanted = [pk for pk, types in endpoints if "*" in types or event.type in types]
    if not wanted:
        return []
    created = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                event=event,
                endpoint_id=pk,
                livemode=event.livemode,
                next_attempt_at=now,
                created_at=now,
            )
            for pk in wanted
        ]
    )
    ids = [d.pk for d in created if d.pk is not None]
    if len(ids) != len(created):  # a backend that returns no ids: look them up
        ids = list(WebhookDelivery.objects.filter(event=event).values_list("pk", flat=True))
    publish(DeliveriesDue(delivery_ids=tuple(ids)))
    return ids


ChargeEvent = (
    ChargeSucceeded
    | ChargeFailed
    | ChargeAuthorized
    | ChargeCaptured
    | ChargeReleased
    | ChargeExpired
    | RefundSucceeded
)


def _charge(event: ChargeEvent) -> Model:
    settled = getattr(event, "charge", None)
    if settled is not None and {"merchant", "token"} <= settled._state.fields_cache.keys():
        return settled  # as its transaction (this one) wrote it: no need to read it back
    return Charge.objects.select_related("merchant", "token").get(pk=event.charge_id)


def _refund(event: RefundSucceeded | RefundFailed) -> Model:
    return Refund.objects.select_related("merchant").get(pk=event.refund_id)


def _subscription(event: SubscriptionEvent) -> Model:
    return Subscription.objects.select_related("merchant").get(pk=event.subscription_id)


def _session(event: CheckoutSessionCompleted | CheckoutSessionExpired) -> Model:
    return CheckoutSession.objects.select_related("merchant").get(pk=event.session_id)


def _token(event: TokenRevoked) -> Model:
    return Token.objects.select_related("merchant").get(pk=event.token_id)


def _customer(event: CustomerEvent) -> Model:
    return Customer.objects.get(pk=event.customer_id)


def _customer_card(event: CustomerCardAttached | CustomerCardDetached) -> Model:
    return CustomerCard.objects.select_related("token").get(token_id=event.token_id)


# Each domain event → the webhook events it makes, with the object each one shows.
WEBHOOK_EVENTS: dict[type[DomainEvent], tuple[tuple[EventType, Callable[..., Model]], ...]] = {
    ChargeSucceeded: ((EventType.CHARGE_SUCCEEDED, _charge),),
    ChargeFailed: ((EventType.CHARGE_FAILED, _charge),),
    ChargeAuthorized: ((EventType.CHARGE_AUTHORIZED, _charge),),
    ChargeCaptured: ((EventType.CHARGE_CAPTURED, _charge),),
    ChargeReleased: ((EventType.CHARGE_RELEASED, _charge),),
    ChargeExpired: ((EventType.CHARGE_EXPIRED, _charge),),
    RefundSucceeded: (
        (EventType.REFUND_SUCCEEDED, _refund),
        (EventType.CHARGE_REFUNDED, _charge),
    ),
    RefundFailed: ((EventType.REFUND_FAILED, _refund),),
    SubscriptionCreated: ((EventType.SUBSCRIPTION_CREATED, _subscription),),
    SubscriptionUpdated: ((EventType.SUBSCRIPTION_UPDATED, _subscription),),
    SubscriptionRenewed: ((EventType.SUBSCRIPTION_RENEWED, _subscription),),
    SubscriptionPastDue: ((EventType.SUBSCRIPTION_PAST_DUE, _subscription),),
    SubscriptionCanceled: ((EventType.SUBSCRIPTION_CANCELED, _subscription),),
    CheckoutSessionCompleted: ((EventType.CHECKOUT_SESSION_COMPLETED, _session),),
    CheckoutSessionExpired: ((EventType.CHECKOUT_SESSION_EXPIRED, _session),),
    TokenRevoked: ((EventType.TOKEN_REVOKED, _token),),
    CustomerCreated: ((EventType.CUSTOMER_CREATED, _customer),),
    CustomerUpdated: ((EventType.CUSTOMER_UPDATED, _customer),),
    CustomerDeleted: ((EventType.CUSTOMER_DELETED, _customer),),
    CustomerCardAttached: ((EventType.CUSTOMER_CARD_ATTACHED, _customer_card),),
    CustomerCardDetached: ((EventType.CUSTOMER_CARD_DETACHED, _customer_card),),
}


def events_on_domain_event(event: DomainEvent) -> None:
    """Subscribed to every type of ``WEBHOOK_EVENTS``: its webhook events, in one
    transaction (the publisher's, for the payment events: ``RECORDED_WITH_CHANGE``)."""
    with transaction.atomic(savepoint=False):  # the kernel gives in-transaction handlers one
        for event_type, load in WEBHOOK_EVENTS[type(event)]:
            event_record(event_type=event_type, obj=load(event))


# Recorded inside the transaction that makes the change (an outbox): a charge's or a refund's
# outcome and its webhook event commit together, with no commit of their own.
RECORDED_WITH_CHANGE: frozenset[type[DomainEvent]] = frozenset(
    {ChargeSucceeded, ChargeFailed, RefundSucceeded, RefundFailed}
)

# The events API promises at least this much history (README, /api/v1/events).
MIN_EVENT_RETENTION_DAYS = 30


def events_purge(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Delete events older than ``WEBHOOK_EVENT_RETENTION_DAYS`` (never fewer than 30) with
    their finished deliveries and attempts; returns how many events went.

    Without it the event, delivery and attempt tables only grow. An event that still has a
    pending delivery (an admin resend of an old one) stays until that delivery ends. Batches
    keep each transaction, and the locks it holds, short.
    """
    days = max(MIN_EVENT_RETENTION_DAYS, settings.WEBHOOK_EVENT_RETENTION_DAYS)
    cutoff = clock_now(now) - timedelta(days=days)
    pending = WebhookDelivery.Status.PENDING
    purged = 0
    while True:
        ids = list(
            Event.objects.filter(created_at__lt=cutoff)
            .exclude(deliveries__status=pending)
            .order_by("created_at", "id")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return purged
        with transaction.atomic():
            # Attempts go with their delivery (CASCADE); a delivery made pending meanwhile
            # keeps itself and its event (the event's PROTECT stands).
            WebhookDelivery.objects.filter(event_id__in=ids).exclude(status=pending).delete()
            gone, _ = Event.objects.filter(pk__in=ids, deliveries__isnull=True).delete()
        purged += gone
        if len(ids) < batch:
            return purged


__all__ = [
    "RECORDED_WITH_CHANGE",
    "WEBHOOK_EVENTS",
    "event_record",
    "events_on_domain_event",
    "events_purge",
]
