"""Small query helpers shared by the apps' selectors."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def filter_given(queryset: QuerySet[M], **lookups: object) -> QuerySet[M]:
    """``queryset`` narrowed by each lookup whose value was given: list filters are optional,
    and ``None`` or ``""`` means "any", never "equal to nothing"."""
    return queryset.filter(**{k: v for k, v in lookups.items() if v is not None and v != ""})
