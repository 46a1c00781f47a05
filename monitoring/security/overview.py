"""The admin's landing page: the last 24 hours as the database knows them, one mode at a time.

Every figure is a GROUP BY over rows every app server shares (tokens, charges, the audit
trail, alerts), so each worker shows the same numbers, and the page costs one query per series
however much happened. Monitoring imports neither the vault nor the checkout: they register
the sources of their own rows here (``overview_source_register``, from ``AppConfig.ready()``).

Tokens, charges and declines belong to one mode and are shown for the mode the operator picks
(test figures never inflate live ones). Refusals and alerts have no mode to trust: a card
refused before it became a token, or an abuse rule tripped by one address, may come from a
forged or unreadable request, so those two series count both modes and the page says so.

The plots are plain SVG with presentation attributes: no JavaScript and no inline style, so
the admin keeps its strict Content-Security-Policy.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from django.db.models import Exists, OuterRef
from django.utils import timezone

from monitoring.audit.models import AuditEvent
from monitoring.security.models import SecurityAlert
from payments_site.kernel.queries import hourly_counts

HOURS = 24
TOP_CODES = 8


class Source(StrEnum):
    """Series the other apps supply, each for one mode. ``TOKENIZATIONS`` counts tokens
    issued (key ``"tokenized"``); ``CHARGES`` counts charges by status (key ``"succeeded"`` /
    ``"failed"``) and failure code (``reason``)."""

    TOKENIZATIONS = "tokenizations"
    CHARGES = "charges"


@dataclass(frozen=True)
class HourlyCount:
    hour: datetime  # start of the hour, UTC
    key: str
    reason: str
    count: int


HourlySource = Callable[[datetime, bool], Iterable[HourlyCount]]  # (since, livemode) → counts

_SOURCES: dict[Source, HourlySource] = {}


def overview_source_register(*, source: Source, counts: HourlySource) -> None:
    """Supply one series: ``counts(since, livemode)`` answers with one query, the rows of that
    mode at or after ``since``."""
    _SOURCES[source] = counts


# --- what the database knows -------------------------------------------------------------------


def _hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _refusals(since: datetime) -> list[HourlyCount]:
    """Cards refused before a token was made, by reason, from the audit trail: every refusal
    of the vault's ingest, and the hosted page's own (cards it refused before encrypting, a
    cool-off). A page attempt the vault refused is one refusal, not two: the page's record of
    it shares the vault's request id."""
    denied = AuditEvent.objects.filter(occurred_at__gte=since, outcome=AuditEvent.Outcome.DENIED)
    vault_refused_same_request = denied.filter(action="card.ingest").exclude(request_id="")
    vault_refused_same_request = vault_refused_same_request.filter(
        request_id=OuterRef("request_id")
    )
    rows = denied.filter(action__in=("card.ingest", "checkout.attempt")).exclude(
        Exists(vault_refused_same_request), action="checkout.attempt"
    )
    return [
        HourlyCount(hour, "refused", reason or "unspecified", n)
        for hour, (reason,), n in hourly_counts(rows, at="occurred_at", by=("reason",))
    ]


def _alerts(since: datetime) -> list[HourlyCount]:
    rows = SecurityAlert.objects.filter(raised_at__gte=since)
    return [
        HourlyCount(hour, "alert", rule, n)
        for hour, (rule,), n in hourly_counts(rows, at="raised_at", by=("rule",))
    ]


# --- plots ---------------------------------------------------------------------------------------

WIDTH = 720
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 8, 12, 28
_HEIGHT = 180


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"


@dataclass(frozen=True)
class GridLine:
    y: float
    x1: float
    x2: float


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    summary: str  # one sentence: what the plot shows, for captions and screen readers
    height: int
    bars: tuple[Bar, ...]
    labels: tuple[Label, ...]
    grid: tuple[GridLine, ...]
    legend: tuple[tuple[str, str], ...] = ()  # (label, colour)
    width: int = WIDTH


@dataclass(frozen=True)
class Overview:
    livemode: bool  # the mode of tokens, charges and declines; refusals and alerts are both
    since: datetime
    tokenized: int
    charges: int
    declined: int
    decline_rate: float | None  # declined / charges over the 24 hours; None without charges
    refused: int
    alerts: int
    open_alerts: int
    refusals: list[tuple[str, int]]  # reason → count, largest first
    declines: list[tuple[str, int]]  # failure code → count, largest first
    alerts_by_rule: list[tuple[str, int]]
    charts: tuple[Chart, ...]


def _nice_ceiling(value: float) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (at least 1): a readable axis top."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _round(value: float) -> float:
    return round(value, 2)


def _hour_span(hour: datetime) -> str:
    return f"{hour:%H:00}–{hour + timedelta(hours=1):%H:00} UTC"


def _hourly_chart(
    *,
    slug: str,
    title: str,
    summary: str,
    hours: list[datetime],
    values: list[float | None],
    titles: list[str],
    colour: str,
    top: float | None = None,
    unit: str = "",
) -> Chart:
    """One bar per hour, oldest on the left; ``None`` is an hour with nothing to measure."""
    plot_width = WIDTH - _LEFT - _RIGHT
    base = _HEIGHT - _BOTTOM
    span = base - _TOP
    axis_top = top if top is not None else _nice_ceiling(max([0.0, *(v or 0 for v in values)]))
    slot = plot_width / len(hours)
    bars = []
    rate = top is not None  # a share: 0 is a measurement, None an hour with nothing to measure
    for index, (value, text) in enumerate(zip(values, titles, strict=True)):
        if value is None or (not value and not rate):
            continue
        height = max(span * value / axis_top, 1.0)  # a measured 0 % still shows, as a line
        bars.append(
            Bar(
                x=_round(_LEFT + index * slot + slot * 0.15),
                y=_round(base - height),
                width=_round(slot * 0.7),
                height=_round(height),
                fill=colour,
                title=text,
            )
        )
    ticks = [0.0, axis_top / 2, float(axis_top)] if axis_top % 2 == 0 else [0.0, float(axis_top)]
    grid = tuple(
        GridLine(y=_round(base - span * t / axis_top), x1=_LEFT, x2=WIDTH - _RIGHT) for t in ticks
    )
    labels = [
        Label(
            x=_LEFT - 4, y=_round(base - span * t / axis_top + 4), text=f"{t:g}{unit}", anchor="end"
        )
        for t in ticks
    ]
    labels += [
        Label(x=_round(_LEFT + index * slot), y=_HEIGHT - 10, text=f"{hour:%H:00}")
        for index, hour in enumerate(hours)
        if index % 4 == 0
    ]
    if not bars:  # (a rate's hours with charges always have a bar)
        labels.append(
            Label(
                x=_LEFT + plot_width / 2,
                y=_TOP + span / 2,
                text="Nothing in the last 24 hours",
                anchor="middle",
            )
        )
    return Chart(
        slug=slug,
        title=title,
        summary=summary,
        height=_HEIGHT,
        bars=tuple(bars),
        labels=tuple(labels),
        grid=grid,
    )


def _ranked_chart(
    *, slug: str, title: str, summary: str, rows: list[tuple[str, int]], colour: str
) -> Chart:
    """Horizontal bars, largest first, each named and counted."""
    label_width, row_height = 190, 22
    plot_width = WIDTH - label_width - 60
    peak = max([1, *(n for _, n in rows)])
    bars, labels = [], []
    for index, (name, n) in enumerate(rows):
        y = _TOP + index * row_height
        length = plot_width * n / peak
        bars.append(
            Bar(
                x=label_width,
                y=y,
                width=_round(length),
                height=row_height - 6,
                fill=colour,
                title=f"{name}: {n}",
            )
        )
        labels.append(Label(x=label_width - 6, y=y + 12, text=name, anchor="end"))
        labels.append(Label(x=_round(label_width + length + 6), y=y + 12, text=str(n)))
    if not rows:
        labels.append(
            Label(
                x=WIDTH / 2, y=_TOP + 12, text="No declines in the last 24 hours", anchor="middle"
            )
        )
    height = _TOP + max(1, len(rows)) * row_height + 4
    return Chart(
        slug=slug,
        title=title,
        summary=summary,
        height=height,
        bars=tuple(bars),
        labels=tuple(labels),
        grid=(),
    )


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def overview_build(*, livemode: bool, now: datetime | None = None) -> Overview:
    """The last 24 hours of one mode, from the database: one query per series."""
    current = _hour_floor(now or timezone.now())
    hours = [current - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    since = hours[0]
    slot = {hour: index for index, hour in enumerate(hours)}

    rows: list[HourlyCount] = []
    for source in Source:
        counts = _SOURCES.get(source)
        if counts is not None:
            rows.extend(counts(since, livemode))
    rows.extend(_refusals(since))
    rows.extend(_alerts(since))

    per_hour: dict[str, list[int]] = defaultdict(lambda: [0] * HOURS)
    by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        hour = _hour_floor(row.hour)
        if hour < since:
            continue
        # A row stamped after this hour (a server whose clock runs ahead) counts in this one.
        index = slot.get(hour, HOURS - 1)
        per_hour[row.key][index] += row.count
        by_reason[row.key][row.reason or "unspecified"] += row.count

    failed, succeeded = per_hour["failed"], per_hour["succeeded"]
    refused, alerts = per_hour["refused"], per_hour["alert"]
    charges = [f + s for f, s in zip(failed, succeeded, strict=True)]
    rates: list[float | None] = [
        100 * f / total if total else None for f, total in zip(failed, charges, strict=True)
    ]
    declines = by_reason["failed"].most_common()
    total_charges, total_failed = sum(charges), sum(failed)

    charts = (
        _hourly_chart(
            slug="decline-rate",
            title="Decline rate per hour",
            summary=(
                "Share of charges the processor declined, per hour; an empty hour had no charges."
            ),
            hours=hours,
            values=rates,
            titles=[
                f"{_hour_span(h)}: {_plural(f, 'decline', 'declines')} of "
                f"{_plural(c, 'charge', 'charges')}" + (f" ({r:.0f} %)" if r is not None else "")
                for h, f, c, r in zip(hours, failed, charges, rates, strict=True)
            ],
            colour="#b3261e",
            top=100,
            unit=" %",
        ),
        _hourly_chart(
            slug="refusals",
            title="Refusals per hour",
            summary=(
                "Cards refused before a token was made (invalid cards, rejected or replayed "
                "card tokens, cool-offs), per hour."
            ),
            hours=hours,
            values=[float(n) for n in refused],
            titles=[
                f"{_hour_span(h)}: {_plural(n, 'refusal', 'refusals')}"
                for h, n in zip(hours, refused, strict=True)
            ],
            colour="#c77700",
        ),
        _hourly_chart(
            slug="alerts",
            title="Alerts per hour",
            summary="Security alerts raised by the card-testing and abuse rules, per hour.",
            hours=hours,
            values=[float(n) for n in alerts],
            titles=[
                f"{_hour_span(h)}: {_plural(n, 'alert', 'alerts')}"
                for h, n in zip(hours, alerts, strict=True)
            ],
            colour="#6a1b9a",
        ),
        _ranked_chart(
            slug="decline-codes",
            title="Top decline codes",
            summary="The processor's most frequent failure codes in the last 24 hours.",
            rows=declines[:TOP_CODES],
            colour="#b3261e",
        ),
    )
    return Overview(
        livemode=livemode,
        since=since,
        tokenized=sum(per_hour["tokenized"]),
        charges=total_charges,
        declined=total_failed,
        decline_rate=100 * total_failed / total_charges if total_charges else None,
        refused=sum(refused),
        alerts=sum(alerts),
        open_alerts=SecurityAlert.objects.filter(status=SecurityAlert.Status.OPEN).count(),
        refusals=by_reason["refused"].most_common(),
        declines=declines,
        alerts_by_rule=by_reason["alert"].most_common(),
        charts=charts,
    )
