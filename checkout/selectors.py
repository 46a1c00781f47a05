"""Read-side queries of the checkout (scoped to one merchant, ready to paginate)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from checkout.models import Charge, Subscription
from vault.models import Merchant


def charge_list(
    *,
    merchant: Merchant,
    token: str | None = None,
    status: str | None = None,
    subscription: str | None = None,
    created_gte: datetime | None = None,
    created_lte: datetime | None = None,
) -> QuerySet[Charge]:
    charges = Charge.objects.filter(merchant=merchant)
    if token:
        charges = charges.filter(token_id=token)
    if status:
        charges = charges.filter(status=status)
    if subscription:
        charges = charges.filter(subscription_id=subscription)
    if created_gte:
        charges = charges.filter(created_at__gte=created_gte)
    if created_lte:
        charges = charges.filter(created_at__lte=created_lte)
    return charges


def subscription_list(
    *,
    merchant: Merchant,
    token: str | None = None,
    status: str | None = None,
    created_gte: datetime | None = None,
    created_lte: datetime | None = None,
) -> QuerySet[Subscription]:
    subscriptions = Subscription.objects.filter(merchant=merchant)
    if token:
        subscriptions = subscriptions.filter(token_id=token)
    if status:
        subscriptions = subscriptions.filter(status=status)
    if created_gte:
        subscriptions = subscriptions.filter(created_at__gte=created_gte)
    if created_lte:
        subscriptions = subscriptions.filter(created_at__lte=created_lte)
    return subscriptions


def subscription_charges(*, subscription: Subscription, limit: int = 100) -> list[Charge]:
    return list(subscription.charges.order_by("-created_at", "-id")[:limit])
