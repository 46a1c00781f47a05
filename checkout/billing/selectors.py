"""Reads of subscriptions, scoped to one merchant and ready to paginate."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from checkout.billing.models import Subscription
from checkout.payments.models import Charge
from payments_site.kernel.queries import filter_given
from vault.models import Merchant


def subscription_list(
    *,
    merchant: Merchant,
    token: str | None = None,
    customer: str | None = None,
    status: str | None = None,
    created_gte: datetime | None = None,
    created_lte: datetime | None = None,
) -> QuerySet[Subscription]:
    return filter_given(
        Subscription.objects.owned_by(merchant),
        token_id=token,
        customer_id=customer,
        status=status,
        created_at__gte=created_gte,
        created_at__lte=created_lte,
    )


def subscription_charges(*, subscription: Subscription, limit: int = 100) -> list[Charge]:
    return list(subscription.charges.order_by("-created_at", "-id")[:limit])
