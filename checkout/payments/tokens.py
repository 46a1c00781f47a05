"""Which tokens may be charged. The vault owns tokens; this is the checkout's rule on them."""

from __future__ import annotations

from datetime import datetime

from checkout.payments.errors import token_unusable
from payments_site.kernel.rows import PreparedQuery
from vault.models import Merchant, Token


def token_expired(*, token: Token, now: datetime) -> bool:
    """A card is valid through the last day of its expiry month (the vault's ``expires_at``)."""
    return token.expires_at <= now


def token_refusal(*, token: Token, now: datetime) -> str:
    """The code that forbids charging ``token`` now, or "" when it may be charged."""
    if token.status != Token.Status.ACTIVE or token.card_data_id is None:
        return "token_revoked"
    if token_expired(token=token, now=now):
        return "token_expired"
    return ""


# On every charge: compiled once per mode.
_CHARGEABLE = PreparedQuery(
    Token,
    lambda livemode, *, merchant_id, token_id: Token.objects.filter(
        merchant_id=merchant_id, livemode=livemode, pk=token_id
    ).select_related("card_data__data_key"),  # the reveal reads no row of its own
)


def token_for_charge(*, merchant: Merchant, token_id: str, now: datetime) -> Token:
    """The merchant's token ``token_id`` if it can be charged, else a 422 with a clear code.
    Another merchant's token, or one of the other mode, is reported exactly like a missing one
    (no existence oracle)."""
    token: Token | None = _CHARGEABLE.one(
        merchant.acting_livemode(), merchant_id=merchant.pk, token_id=token_id
    )
    if token is None:
        raise token_unusable("token_not_found")
    refusal = token_refusal(token=token, now=now)
    if refusal:
        raise token_unusable(refusal)
    return token
