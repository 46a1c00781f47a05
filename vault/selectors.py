"""Reads of tokens: masked metadata only. Nothing here touches card ciphertexts."""

from __future__ import annotations

import re
from datetime import datetime

from monitoring.security.overview import HourlyCount
from payments_site.kernel.pagination import DEFAULT_PAGE, Page, keyset_page
from payments_site.kernel.queries import filter_given, hourly_counts

from .models import Merchant, Token
from .services import TokenNotFound

# tok_ + base62 (22 characters for 128 bits; a little slack for longer ids). Checked before any
# query, so odd input (NUL bytes, huge strings) never reaches the database.
TOKEN_ID = re.compile(r"tok_[0-9A-Za-z]{16,36}")


def token_get(*, merchant: Merchant, token_id: str) -> Token:
    """The merchant's token ``token_id`` in its mode; another merchant's token, or one of the
    other mode, is ``TokenNotFound`` (404), exactly like one that does not exist, so ids cannot
    be probed across accounts or modes."""
    if not isinstance(token_id, str) or not TOKEN_ID.fullmatch(token_id):
        raise TokenNotFound()
    token = Token.objects.owned_by(merchant).filter(pk=token_id).first()
    if token is None:
        raise TokenNotFound()
    return token


def token_list(
    *,
    merchant: Merchant,
    status: str | None = None,
    brand: str | None = None,
    fingerprint: str | None = None,
    limit: int = DEFAULT_PAGE,
    starting_after: str | None = None,
    ending_before: str | None = None,
) -> Page:
    """Newest first, cursor-paginated like every list (``payments_site.kernel.pagination``)."""
    queryset = filter_given(
        Token.objects.owned_by(merchant), status=status, brand=brand, fingerprint=fingerprint
    )
    return keyset_page(
        queryset, limit=limit, starting_after=starting_after, ending_before=ending_before
    )


def tokens_created_hourly(since: datetime, livemode: bool) -> list[HourlyCount]:
    """Tokens of one mode issued per hour since ``since`` (all merchants), for the admin
    overview."""
    rows = Token.objects.filter(created_at__gte=since, livemode=livemode)
    return [
        HourlyCount(hour, "tokenized", "", n) for hour, _, n in hourly_counts(rows, at="created_at")
    ]
