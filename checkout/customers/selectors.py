"""Reads of customers and their cards, scoped to one merchant and mode."""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery

from checkout.customers.models import Customer, CustomerCard
from payments_site.kernel.queries import filter_given
from vault.models import Merchant


def _with_default_token(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    """Each customer with ``default_token_id`` (its default card's token, or None) in the same
    query, so a page of customers costs one query, not one per customer."""
    default = CustomerCard.objects.filter(customer=OuterRef("pk"), is_default=True)
    return queryset.annotate(default_token_id=Subquery(default.values("token_id")[:1]))


def customer_list(
    *,
    merchant: Merchant,
    created_gte: datetime | None = None,
    created_lte: datetime | None = None,
) -> QuerySet[Customer]:
    """Customers not deleted, ready to paginate."""
    return _with_default_token(
        filter_given(
            Customer.objects.owned_by(merchant).filter(deleted_at__isnull=True),
            created_at__gte=created_gte,
            created_at__lte=created_lte,
        )
    )


def customer_default_token_id(customer: Customer) -> str | None:
    """The token of the customer's default card, or None (read anew unless annotated)."""
    annotated = getattr(customer, "default_token_id", ...)
    if annotated is not ...:
        return annotated
    return (
        CustomerCard.objects.owned_by(customer.owner)
        .filter(customer=customer, is_default=True)
        .values_list("token_id", flat=True)
        .first()
    )


def customer_cards(*, customer: Customer) -> QuerySet[CustomerCard]:
    """The customer's attached cards with their tokens, ready to page by ``attached_at``."""
    return (
        CustomerCard.objects.owned_by(customer.owner)
        .filter(customer=customer, detached_at__isnull=True)
        .select_related("token")
    )
