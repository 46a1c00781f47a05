"""What billing announces once committed (``payments_site.kernel.events``)."""

from __future__ import annotations

from dataclasses import dataclass

from payments_site.kernel.events import DomainEvent


@dataclass(frozen=True)
class SubscriptionEvent(DomainEvent):
    subscription_id: str
    merchant_id: str


@dataclass(frozen=True)
class SubscriptionCreated(SubscriptionEvent):
    # Period 0 is due now: the billing runner charges it once this is committed.
    first_period_due: bool = False
    # The merchant's API client that asked for it (``api_client_source``): period 0's charge
    # counts towards, and waits for, that client's card-testing rules.
    api_client: str = ""


@dataclass(frozen=True)
class SubscriptionUpdated(SubscriptionEvent):
    pass


@dataclass(frozen=True)
class SubscriptionRenewed(SubscriptionEvent):
    pass


@dataclass(frozen=True)
class SubscriptionPastDue(SubscriptionEvent):
    pass


@dataclass(frozen=True)
class SubscriptionCanceled(SubscriptionEvent):
    pass
