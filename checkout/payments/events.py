"""What payments announce once committed (``payments_site.kernel.events``)."""

from __future__ import annotations

from dataclasses import dataclass

from payments_site.kernel.events import DomainEvent


@dataclass(frozen=True)
class ChargeSucceeded(DomainEvent):
    charge_id: str
    merchant_id: str


@dataclass(frozen=True)
class ChargeFailed(DomainEvent):
    charge_id: str
    merchant_id: str


@dataclass(frozen=True)
class RefundSucceeded(DomainEvent):
    refund_id: str
    charge_id: str
    merchant_id: str


@dataclass(frozen=True)
class RefundFailed(DomainEvent):
    refund_id: str
    charge_id: str
    merchant_id: str
