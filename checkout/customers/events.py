"""What customers announce once committed (``payments_site.kernel.events``)."""

from __future__ import annotations

from dataclasses import dataclass

from payments_site.kernel.events import DomainEvent


@dataclass(frozen=True)
class CustomerEvent(DomainEvent):
    customer_id: str
    merchant_id: str


@dataclass(frozen=True)
class CustomerCreated(CustomerEvent):
    pass


@dataclass(frozen=True)
class CustomerUpdated(CustomerEvent):
    """Its fields changed, or its cards or default card did."""


@dataclass(frozen=True)
class CustomerDeleted(CustomerEvent):
    """Its cards are revoked already; billing cancels its subscriptions on hearing this."""


@dataclass(frozen=True)
class CustomerCardAttached(CustomerEvent):
    token_id: str


@dataclass(frozen=True)
class CustomerCardDetached(CustomerEvent):
    token_id: str
