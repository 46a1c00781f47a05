"""Errors of billing, each with a stable code (the problem table gives it a status)."""

from __future__ import annotations

from payments_site.kernel.errors import DomainError


class SubscriptionNotFound(DomainError):
    code = "subscription_not_found"
