"""Reads of tokens: masked metadata only. Nothing here touches card ciphertexts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from monitoring.security.overview import HourlyCount
from payments_site.kernel.errors import FieldError, InvalidInput
from payments_site.kernel.queries import filter_given, hourly_counts

from .models import Merchant, Token
from .services import TokenNotFound

MAX_PAGE = 100
# tok_ + base62 (22 characters for 128 bits; a little slack for longer ids). Checked before any
# query, so odd input (NUL bytes, huge strings) never reaches the database.
TOKEN_ID = re.compile(r"tok_[0-9A-Za-z]{16,36}")


def token_get(*, merchant: Merchant, token_id: str) -> Token:
    """The merchant's token ``token_id``; another merchant's token is ``TokenNotFound`` (404),
    exactly like one that does not exist, so ids cannot be probed across accounts."""
    if not isinstance(token_id, str) or not TOKEN_ID.fullmatch(token_id):
        raise TokenNotFound()
    token = Token.objects.filter(merchant=merchant, pk=token_id).first()
    if token is None:
        raise TokenNotFound()
    return token


@dataclass(frozen=True)
class TokenPage:
    tokens: list[Token]
    has_more: bool


def token_list(
    *,
    merchant: Merchant,
    status: str | None = None,
    brand: str | None = None,
    fingerprint: str | None = None,
    limit: int = 20,
    starting_after: str | None = None,
) -> TokenPage:
    """Newest first, cursor-paginated: ``starting_after`` is the last id of the previous page."""
    limit = max(1, min(limit, MAX_PAGE))
    queryset = filter_given(
        Token.objects.filter(merchant=merchant).order_by("-created_at", "-id"),
        status=status,
        brand=brand,
        fingerprint=fingerprint,
    )
    if starting_after:
        cursor = Token.objects.filter(merchant=merchant, pk=starting_after).first()
        if cursor is None:  # a 400 naming the parameter, as every other list answers
            message = "No such object in this list."
            raise InvalidInput(message, errors=[FieldError("starting_after", "invalid", message)])
        queryset = queryset.filter(
            Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at, id__lt=cursor.id)
        )
    rows = list(queryset[: limit + 1])
    return TokenPage(tokens=rows[:limit], has_more=len(rows) > limit)


def tokens_created_hourly(since: datetime) -> list[HourlyCount]:
    """Tokens issued per hour since ``since`` (all merchants), for the admin overview."""
    rows = Token.objects.filter(created_at__gte=since)
    return [
        HourlyCount(hour, "tokenized", "", n) for hour, _, n in hourly_counts(rows, at="created_at")
    ]
