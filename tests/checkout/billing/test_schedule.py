"""Billing calendar: month-end clamping from the anchor, weeks, years, dunning offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkout.billing.schedule import add_months, dunning_retry_at, period_bounds, period_start
from tests.checkout.conftest import at


def starts(anchor: datetime, interval: str, count: int, n: int) -> list[str]:
    return [
        period_start(anchor=anchor, interval=interval, interval_count=count, index=i).strftime(
            "%Y-%m-%d"
        )
        for i in range(n)
    ]


def test_month_end_anchor_clamps_and_comes_back() -> None:
    assert starts(at("2027-01-31"), "month", 1, 5) == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
        "2027-05-31",
    ]


def test_leap_year_february_gets_the_29th() -> None:
    assert starts(at("2028-01-31"), "month", 1, 3) == ["2028-01-31", "2028-02-29", "2028-03-31"]


def test_yearly_anchor_on_29_february() -> None:
    assert starts(at("2028-02-29"), "year", 1, 5) == [
        "2028-02-29",
        "2029-02-28",
        "2030-02-28",
        "2031-02-28",
        "2032-02-29",
    ]


def test_weeks_days_and_counts() -> None:
    anchor = at("2027-01-01T09:30:00")
    assert starts(anchor, "week", 2, 3) == ["2027-01-01", "2027-01-15", "2027-01-29"]
    assert starts(anchor, "day", 10, 3) == ["2027-01-01", "2027-01-11", "2027-01-21"]
    assert starts(at("2027-01-31"), "month", 3, 3) == ["2027-01-31", "2027-04-30", "2027-07-31"]
    assert period_start(anchor=anchor, interval="week", interval_count=1, index=1).time() == (
        anchor.time()
    )


def test_period_bounds_are_contiguous() -> None:
    start, end = period_bounds(anchor=at("2027-01-31"), interval="month", interval_count=1, index=1)
    assert (start, end) == (at("2027-02-28"), at("2027-03-31"))


def test_unknown_interval_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown interval"):
        period_start(anchor=at("2027-01-01"), interval="fortnight", interval_count=1, index=1)


def test_dunning_offsets_count_from_the_due_date_then_stop() -> None:
    due = at("2027-03-31")
    retries = [
        dunning_retry_at(first_failure_due=due, failed_attempts=n, schedule_days=[1, 3, 5])
        for n in (1, 2, 3, 4)
    ]
    assert retries == [at("2027-04-01"), at("2027-04-03"), at("2027-04-05"), None]


@given(
    anchor=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
    ),
    months=st.integers(min_value=0, max_value=240),
)
def test_add_months_keeps_the_anchor_day_or_the_month_end(anchor: datetime, months: int) -> None:
    moved = add_months(anchor, months)
    assert (moved.year * 12 + moved.month) - (anchor.year * 12 + anchor.month) == months
    next_day = moved + timedelta(days=1)
    assert moved.day == anchor.day or (moved.day < anchor.day and next_day.day == 1)
    assert moved.time() == anchor.time()
