"""Reads of charges, scoped to one merchant and ready to paginate."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from checkout.payments.models import Charge, Refund
from monitoring.security.overview import HourlyCount
from payments_site.kernel.queries import filter_given, hourly_counts
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
        Charge.objects.owned_by(merchant).select_related("token"),  # payment_method_details
        token_id=token,
        status=status,
        subscription_id=subscription,
        created_at__gte=created_gte,
        created_at__lte=created_lte,
    )


def refund_list(
    *,
    merchant: Merchant,
    charge: str | None = None,
    status: str | None = None,
    created_gte: datetime | None = None,
    created_lte: datetime | None = None,
) -> QuerySet[Refund]:
    return filter_given(
        Refund.objects.owned_by(merchant),
        charge_id=charge,
        status=status,
        created_at__gte=created_gte,
        created_at__lte=created_lte,
    )


def charges_settled_hourly(since: datetime, livemode: bool) -> list[HourlyCount]:
    """Charges of one mode per hour since ``since`` (all merchants) by outcome and failure
    code, for the admin overview; a pending charge has no outcome yet and is left out."""
    rows = Charge.objects.filter(
        created_at__gte=since,
        livemode=livemode,
        status__in=(Charge.Status.SUCCEEDED, Charge.Status.FAILED),
    )
    return [
        HourlyCount(hour, status, code, n)
        for hour, (status, code), n in hourly_counts(
            rows, at="created_at", by=("status", "failure_code")
        )
    ]
