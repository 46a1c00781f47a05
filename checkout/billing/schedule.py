"""Billing calendar arithmetic: pure functions, no database.

Periods are computed from the anchor every time (``period_start(anchor, n)``), never by adding
an interval to the previous period: adding one month to 28 Feb would lose the 31st for good,
whereas anchor + 2 months lands on 31 Mar again (31 Jan → 28/29 Feb → 31 Mar).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


# Longest schedule we accept, per unit: a few years, like the processors allow.
MAX_INTERVAL_COUNT = {Interval.DAY: 365, Interval.WEEK: 52, Interval.MONTH: 12, Interval.YEAR: 3}


def add_months(moment: datetime, months: int, *, day: int | None = None) -> datetime:
    """``moment`` moved by ``months`` calendar months, on ``day`` (default: its own day) clamped
    to the last day of the target month. Time of day and timezone are kept."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    wanted = moment.day if day is None else day
    last = calendar.monthrange(year, month)[1]
    return moment.replace(year=year, month=month, day=min(wanted, last))


def period_start(*, anchor: datetime, interval: str, interval_count: int, index: int) -> datetime:
    """Start of period ``index`` (0 = the anchor itself) of a schedule."""
    steps = index * interval_count
    if interval == Interval.DAY:
        return anchor + timedelta(days=steps)
    if interval == Interval.WEEK:
        return anchor + timedelta(weeks=steps)
    if interval == Interval.MONTH:
        return add_months(anchor, steps)
    if interval == Interval.YEAR:
        return add_months(anchor, 12 * steps)
    raise ValueError(f"unknown interval {interval!r}")


def period_bounds(
    *, anchor: datetime, interval: str, interval_count: int, index: int
) -> tuple[datetime, datetime]:
    """``(start, end)`` of period ``index``; ``end`` is the next period's start."""
    start = period_start(
        anchor=anchor, interval=interval, interval_count=interval_count, index=index
    )
    end = period_start(
        anchor=anchor, interval=interval, interval_count=interval_count, index=index + 1
    )
    return start, end


def dunning_retry_at(
    *, first_failure_due: datetime, failed_attempts: int, schedule_days: Sequence[int]
) -> datetime | None:
    """When to retry after ``failed_attempts`` failures of one period, or None when the
    schedule is exhausted. Offsets count from the period's due date, so a slow worker does not
    push the whole schedule back."""
    if failed_attempts < 1:
        raise ValueError("dunning starts after the first failed attempt")
    if failed_attempts > len(schedule_days):
        return None
    return first_failure_due + timedelta(days=schedule_days[failed_attempts - 1])
