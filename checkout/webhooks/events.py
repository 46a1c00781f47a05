"""Recording events: the ``CHECKOUT_EVENT_HOOKS`` and ``TOKEN_REVOKED_HOOKS`` entries.

Both hooks run inside the transaction of the change they report, so an ``Event`` (and its
deliveries) exists if and only if the change committed. Deliveries are handed to Celery only
after that commit (``transaction.on_commit``); a lost hand-off is picked up by the next
``deliveries_enqueue_due`` pass, because the delivery row, not the queue, is the record.

The snapshot in ``data.object`` is built by the same output serializers the API answers with,
so a webhook says exactly what ``GET /api/v1/<object>/<id>`` said at that moment: token
metadata (brand, last4, expiry, fingerprint), never a card number or CVC. (The API layer's
serializers are imported lazily here: they *are* the public representation of each object.)

Domain event → webhook event types:

- ``charge.succeeded`` / ``charge.failed`` → the same, object: the charge;
- ``refund.succeeded`` → ``refund.succeeded`` (the refund) **and** ``charge.refunded`` (the
  charge, with its new ``amount_refunded``), Stripe's name for it;
- ``refund.failed`` → the same, object: the refund;
- ``subscription.created|updated|renewed|past_due|canceled`` → the same;
- ``checkout.session.completed`` → the same, object: the session;
- a token revocation → ``token.revoked``, object: the token's masked metadata.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Model
from rest_framework import serializers

from checkout.clock import clock_now
from checkout.models import (
    Charge,
    CheckoutSession,
    Event,
    EventType,
    Refund,
    Subscription,
    WebhookDelivery,
    WebhookEndpoint,
)
from monitoring.observability.redaction import redact_text
from payments_site.kernel.ids import new_id
from vault.models import Token

logger = logging.getLogger(__name__)

API_VERSION = "v1"


_SERIALIZERS: dict[type[Model], tuple[str, Any]] = {}


def _serializer_for(obj: Model) -> tuple[str, Callable[[Model], Any]]:
    """(object type, function rendering ``obj`` as the API does). One serializer instance per
    type is kept and its ``to_representation`` reused: building a DRF serializer's fields
    anew for every event was a third of the cost of recording one."""
    if not _SERIALIZERS:
        from checkout.billing.api import SubscriptionOutputSerializer
        from checkout.payments.api import ChargeOutputSerializer, RefundOutputSerializer
        from checkout.sessions.api import CheckoutSessionOutputSerializer
        from vault.api import TokenOutputSerializer

        _SERIALIZERS.update(
            {
                Charge: ("charge", ChargeOutputSerializer()),
                Refund: ("refund", RefundOutputSerializer()),
                Subscription: ("subscription", SubscriptionOutputSerializer()),
                CheckoutSession: ("checkout.session", CheckoutSessionOutputSerializer()),
                Token: ("token", TokenOutputSerializer()),
            }
        )
    object_type, serializer = _SERIALIZERS[type(obj)]
    return object_type, serializer.to_representation


def _scrub(value: Any) -> Any:
    """Belt and braces: every string of the snapshot passes the log redactor, so a card number
    that slipped past input validation (which refuses them) would leave masked."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def event_record(*, event_type: str, obj: Model, now: datetime | None = None) -> Event:
    """Write the event for ``obj`` and queue it for every enabled endpoint that wants it."""
    now = clock_now(now)
    object_type, serialize = _serializer_for(obj)
    snapshot = _scrub(json.loads(json.dumps(serialize(obj), default=str)))
    event = Event(
        id=new_id("evt"),
        merchant_id=obj.merchant_id,  # type: ignore[attr-defined]
        type=EventType(event_type),
        api_version=API_VERSION,
        object_type=object_type,
        object_id=str(obj.pk),
        created_at=now,
    )
    document = {
        "id": event.id,
        "object": "event",
        "type": event.type,
        "api_version": API_VERSION,
        "created": serializers.DateTimeField().to_representation(now),
        "data": {"object": snapshot},
    }
    event.payload = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    event.save(force_insert=True)
    _deliveries_create(event=event, now=now)
    return event


def _deliveries_create(*, event: Event, now: datetime) -> list[int]:
    endpoints = (
        WebhookEndpoint.objects.filter(
            merchant_id=event.merchant_id,
            status=WebhookEndpoint.Status.ENABLED,
            deleted_at__isnull=True,
        )
        .order_by()
        .values_list("pk", "enabled_events")
    )
    wanted = [pk for pk, types in endpoints if "*" in types or event.type in types]
    if not wanted:
        return []
    created = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event=event, endpoint_id=pk, next_attempt_at=now, created_at=now)
            for pk in wanted
        ]
    )
    ids = [d.pk for d in created if d.pk is not None]
    if len(ids) != len(created):  # a backend that returns no ids: look them up
        ids = list(WebhookDelivery.objects.filter(event=event).values_list("pk", flat=True))

    from .delivery import deliveries_enqueue

    transaction.on_commit(lambda: deliveries_enqueue(ids))
    return ids


def events_on_checkout_event(*, event_type: str, obj: Model, **_: object) -> None:
    """``CHECKOUT_EVENT_HOOKS`` entry (see the module docstring for the mapping)."""
    if event_type == "refund.succeeded" and isinstance(obj, Refund):
        event_record(event_type=EventType.REFUND_SUCCEEDED, obj=obj)
        charge = Charge.objects.get(pk=obj.charge_id)
        event_record(event_type=EventType.CHARGE_REFUNDED, obj=charge)
        return
    if event_type not in EventType.values:
        # A new domain event nobody mapped yet: not worth failing the change for.
        logger.warning("webhook_event_type_unknown", extra={"event_type": event_type})
        return
    event_record(event_type=event_type, obj=obj)


def events_on_token_revoked(*, token: Token, reason: str = "", **_: object) -> None:
    """``TOKEN_REVOKED_HOOKS`` entry: ``token.revoked`` with the token's masked metadata."""
    event_record(event_type=EventType.TOKEN_REVOKED, obj=token)


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
    "API_VERSION",
    "event_record",
    "events_on_checkout_event",
    "events_on_token_revoked",
    "events_purge",
]
