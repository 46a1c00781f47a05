"""Small query helpers shared by the apps' selectors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from django.db.models import Count, Model, QuerySet
from django.db.models.functions import TruncHour

M = TypeVar("M", bound=Model)


def filter_given(queryset: QuerySet[M], **lookups: object) -> QuerySet[M]:
    """``queryset`` narrowed by each lookup whose value was given: list filters are optional,
    and ``None`` or ``""`` means "any", never "equal to nothing"."""
    return queryset.filter(**{k: v for k, v in lookups.items() if v is not None and v != ""})


def hourly_counts(
    queryset: QuerySet[M], *, at: str, by: tuple[str, ...] = ()
) -> list[tuple[datetime, tuple[str, ...], int]]:
    """Rows of ``queryset`` counted per UTC hour of ``at`` (and per value of each ``by``
    field), in one GROUP BY query: ``[(hour, (by values…), count), …]``."""
    rows = (
        queryset.annotate(_hour=TruncHour(at, tzinfo=UTC))
        .values("_hour", *by)
        .annotate(_n=Count("pk"))
        .order_by()
    )
    return [
        (row["_hour"].astimezone(UTC), tuple(str(row[f] or "") for f in by), row["_n"])
        for row in rows
    ]
