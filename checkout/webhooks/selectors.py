"""Read side of webhooks, scoped to one merchant and ready for ``keyset_page``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from checkout.webhooks.models import Event, WebhookEndpoint
from payments_site.kernel.errors import DomainError
from payments_site.kernel.jsontext import json_parse
from payments_site.kernel.queries import filter_given
from vault.models import Merchant


class EventNotFound(DomainError):
    code = "event_not_found"


def event_list(
    *,
    merchant: Merchant,
    type: str | None = None,
    object_id: str | None = None,
    created_gte: datetime | None = None,
    created_lte: datetime | None = None,
) -> QuerySet[Event]:
    """``type`` is exact (``charge.succeeded``) or a prefix ending in ``.*`` (``charge.*``)."""
    group = type[:-1] if type and type.endswith(".*") else None
    return filter_given(
        Event.objects.owned_by(merchant),
        type__startswith=group,
        type=None if group else type,
        object_id=object_id,
        created_at__gte=created_gte,
        created_at__lte=created_lte,
    )


def event_get(*, merchant: Merchant, event_id: str) -> Event:
    event = Event.objects.owned_by(merchant).filter(pk=event_id).first()
    if event is None:
        raise EventNotFound("No such event for this merchant.")
    return event


def event_document(event: Event) -> dict[str, Any]:
    """The event as sent to endpoints (key order kept)."""
    document: dict[str, Any] = json_parse(event.payload)
    return document


def webhook_endpoint_list(*, merchant: Merchant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.owned_by(merchant).filter(deleted_at__isnull=True)
