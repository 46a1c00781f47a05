"""What payments announce once committed (``payments_site.kernel.events``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from payments_site.kernel.events import DomainEvent

if TYPE_CHECKING:
    from checkout.payments.models import Charge


@dataclass(frozen=True)
class ChargeSucceeded(DomainEvent):
    """``charge``: the charge as the publishing transaction settled it, when the publisher
    holds it with its merchant and token; a handler inside that transaction may show it
    instead of reading the row back. Not part of the event's identity."""

    charge_id: str
    merchant_id: str
    charge: Charge | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ChargeFailed(DomainEvent):
    """``charge``: as for ``ChargeSucceeded``."""

    charge_id: str
    merchant_id: str
    charge: Charge | None = field(default=None, compare=False, repr=False)


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


@dataclass(frozen=True)
class ChargeAuthorized(DomainEvent):
    """An authorization was approved: the funds are held until captured or released."""

    charge_id: str
    merchant_id: str


@dataclass(frozen=True)
class ChargeCaptured(DomainEvent):
    charge_id: str
    merchant_id: str


@dataclass(frozen=True)
class ChargeReleased(DomainEvent):
    """The merchant released an uncaptured authorization (what a partial capture leaves is
    released as part of ``ChargeCaptured``)."""

    charge_id: str
    merchant_id: str


@dataclass(frozen=True)
class ChargeExpired(DomainEvent):
    """An authorization passed ``authorization_expires_at`` uncaptured; its funds were released."""

    charge_id: str
    merchant_id: str
