"""Reads of checkout sessions, scoped to one merchant and ready to paginate."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from checkout.sessions.expiry import checkout_sessions_expire
from checkout.sessions.models import CheckoutSession
from payments_site.kernel.queries import filter_given
from vault.models import Merchant


def checkout_session_list(
    *,
    merchant: Merchant,
    status: str | None = None,
    mode: str | None = None,
    created_gte: datetime | None = None,
    created_lte: datetime | None = None,
    now: datetime | None = None,
) -> QuerySet[CheckoutSession]:
    """The merchant's sessions. An open session past ``expires_at`` is listed (and filtered)
    as ``expired``, as reading it alone shows it: the list expires those first, each announced
    once (``checkout.sessions.expiry``). The beat pass keeps that backlog to a minute's worth."""
    checkout_sessions_expire(merchant=merchant, now=now, limit=None)
    owned = CheckoutSession.objects.owned_by(merchant)
    return filter_given(
        owned,
        status=status,
        mode=mode,
        created_at__gte=created_gte,
        created_at__lte=created_lte,
    )
