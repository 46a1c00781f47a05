"""Cursor lists, the one way every list of the API pages (tokens, charges, refunds, sessions…).

Newest first, like Stripe: ``starting_after`` is the last id of the page just read and gives the
next (older) page; ``ending_before`` is the first id of the page just read and gives the one
before it (newer), still newest first. Keyset, not offset: stable while new rows arrive, and as
fast on page 1,000 as on page 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from rest_framework import serializers

from .errors import FieldError, InvalidInput

MAX_PAGE = 100
DEFAULT_PAGE = 20
# Any of our ids (``ch_``, ``cs_``, ``tok_``, ``evt_``…). Checked before any query, so odd
# input (NUL bytes, huge strings) never reaches the database.
CURSOR_PATTERN = r"^[a-z]{2,4}_[0-9A-Za-z]{16,36}$"

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page:
    """One page, newest first; ``has_more`` says whether the list goes on in the direction read
    (older rows after ``starting_after`` or a first page, newer ones before ``ending_before``)."""

    items: list[Any]
    has_more: bool


def _unknown_cursor(name: str) -> InvalidInput:
    message = "No such object in this list."
    return InvalidInput(message, errors=[FieldError(name, "invalid", message)])


def keyset_page(
    queryset: QuerySet[M],
    *,
    limit: int = DEFAULT_PAGE,
    starting_after: str | None = None,
    ending_before: str | None = None,
    by: str = "created_at",
) -> Page:
    """One page of ``queryset`` ordered by ``(by, id)`` descending; ``by`` is the instant the
    row joined the list (``created_at``, or ``attached_at`` for a customer's saved card).

    A cursor must be a row of ``queryset`` itself (so of the same merchant, mode and filters):
    anything else is a 400 naming the parameter, exactly like an id that does not exist.
    """
    if starting_after and ending_before:
        message = "Give starting_after or ending_before, not both."
        raise InvalidInput(message, errors=[FieldError("ending_before", "invalid", message)])
    limit = max(1, min(limit, MAX_PAGE))
    name, cursor_id = (
        ("ending_before", ending_before) if ending_before else ("starting_after", starting_after)
    )
    if not cursor_id:
        rows = list(queryset.order_by(f"-{by}", "-pk")[: limit + 1])
        return Page(items=rows[:limit], has_more=len(rows) > limit)
    cursor = queryset.filter(pk=cursor_id).values(by, "pk").first()
    if cursor is None:
        raise _unknown_cursor(name)
    at, pk = cursor[by], cursor["pk"]
    if name == "starting_after":
        older = queryset.filter(Q(**{f"{by}__lt": at}) | Q(**{by: at, "pk__lt": pk}))
        rows = list(older.order_by(f"-{by}", "-pk")[: limit + 1])
        return Page(items=rows[:limit], has_more=len(rows) > limit)
    # The rows just newer than the cursor: read oldest first from it, then turn them round.
    newer = queryset.filter(Q(**{f"{by}__gt": at}) | Q(**{by: at, "pk__gt": pk}))
    rows = list(newer.order_by(by, "pk")[: limit + 1])
    return Page(items=list(reversed(rows[:limit])), has_more=len(rows) > limit)


class PageParamsSerializer(serializers.Serializer[Any]):
    """The query parameters every list takes; a list adds its filters by subclassing."""

    limit = serializers.IntegerField(
        min_value=1, max_value=MAX_PAGE, default=DEFAULT_PAGE, help_text="1 to 100 (default 20)."
    )
    starting_after = serializers.RegexField(
        CURSOR_PATTERN,
        required=False,
        help_text="The last id of the page just read: the next (older) page.",
    )
    ending_before = serializers.RegexField(
        CURSOR_PATTERN,
        required=False,
        help_text=(
            "The first id of the page just read: the page before it (newer), still newest "
            "first. Not with `starting_after`."
        ),
    )


def page_params(validated: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(filters, paging)`` out of a ``PageParamsSerializer``'s validated data: the filters go
    to the list's selector, the paging to ``keyset_page``."""
    values = dict(validated)
    paging = {
        "limit": values.pop("limit", DEFAULT_PAGE),
        "starting_after": values.pop("starting_after", None),
        "ending_before": values.pop("ending_before", None),
    }
    return values, paging
