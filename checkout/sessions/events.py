"""What the hosted checkout announces once committed (``payments_site.kernel.events``)."""

from __future__ import annotations

from dataclasses import dataclass

from payments_site.kernel.events import DomainEvent


@dataclass(frozen=True)
class CheckoutSessionCompleted(DomainEvent):
    session_id: str
    merchant_id: str


@dataclass(frozen=True)
class CheckoutSessionExpired(DomainEvent):
    session_id: str
    merchant_id: str
