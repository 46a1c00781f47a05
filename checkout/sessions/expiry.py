"""Sessions whose time ran out: each is expired and announced once.

A session past ``expires_at`` is expired wherever it is next seen (read alone, listed, its
page opened) and by the ``checkout-sessions-expire`` beat pass, which finds the ones nobody
reads. Each of those places runs the same conditional UPDATE (open and past its time), so of
any number of them racing on one session exactly one changes the row, and only that one
publishes ``CheckoutSessionExpired`` (``checkout.session.expired``), in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from checkout.clock import clock_now
from checkout.sessions.events import CheckoutSessionExpired
from checkout.sessions.models import CheckoutSession
from monitoring.audit.services import audit_record
from payments_site.kernel.events import publish
from vault.models import Merchant


def checkout_session_lapse(*, session_id: str, merchant_id: str, now: datetime) -> bool:
    """Expire one open session whose time has run out, with its audit event and webhook
    event; ``False`` when it is not open or not yet due, or another pass expired it first."""
    with transaction.atomic():
        lapsed = CheckoutSession.objects.filter(
            pk=session_id, status=CheckoutSession.Status.OPEN, expires_at__lte=now
        ).update(status=CheckoutSession.Status.EXPIRED)
        if lapsed:
            audit_record(
                action="checkout.session.expire",
                object_type="checkout_session",
                object_id=session_id,
                reason="expires_at",
            )
            publish(CheckoutSessionExpired(session_id=session_id, merchant_id=merchant_id))
    return bool(lapsed)


def checkout_sessions_expire(
    *, merchant: Merchant | None = None, now: datetime | None = None, limit: int | None = 500
) -> int:
    """Expire the open sessions past ``expires_at`` (all, or one merchant's in its acting mode),
    oldest deadline first, at most ``limit`` (``None``: all); returns how many this pass
    expired. Safe to run anywhere at once."""
    now = clock_now(now)
    sessions = CheckoutSession.objects
    owned = sessions.all() if merchant is None else sessions.owned_by(merchant)
    due = owned.filter(status=CheckoutSession.Status.OPEN, expires_at__lte=now)
    pairs = list(due.order_by("expires_at", "pk").values_list("pk", "merchant_id")[:limit])
    return sum(
        checkout_session_lapse(session_id=pk, merchant_id=merchant_id, now=now)
        for pk, merchant_id in pairs
    )


__all__ = ["checkout_session_lapse", "checkout_sessions_expire"]
