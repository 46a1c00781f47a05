"""Reads of charges, scoped to one merchant and ready to paginate."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from checkout.payments.models import Charge
from payments_site.kernel.queries import filter_given
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
    return filter_given(
        Charge.objects.owned_by(merchant),
        token_id=token,
        status=status,
        subscription_id=subscription,
        created_at__gte=created_gte,
        created_at__lte=created_lte,
    )
