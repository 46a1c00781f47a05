"""The admin overview of the last 24 hours: figures and a small server-rendered SVG chart.

No JavaScript and no inline style: the chart is plain SVG with presentation attributes, so
the admin keeps its strict Content-Security-Policy.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from monitoring.security.engine import stats_last_hours
from monitoring.security.models import SecurityAlert
from monitoring.security.rules import Signal

CHART_WIDTH = 720
CHART_HEIGHT = 180
_PLOT_TOP = 10
_PLOT_BOTTOM = 150
SERIES = (
    ("tokenized", "Tokenizations", "#2f7d32"),
    ("refused", "Refusals", "#c77700"),
    ("declined", "Declines", "#b3261e"),
)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Overview:
    tokenized: int
    refusals: list[tuple[str, int]]  # reason → count, largest first
    declines: list[tuple[str, int]]
    alerts_by_rule: list[tuple[str, int]]
    open_alerts: int
    bars: list[Bar]
    ticks: list[Tick]
    peak: int
    legend: tuple[tuple[str, str, str], ...] = SERIES


_REFUSALS = (Signal.CARD_INVALID, Signal.JWT_REJECTED, Signal.JTI_REPLAYED)


def overview_build() -> Overview:
    hours = stats_last_hours(hours=24)
    refusals: Counter[str] = Counter()
    declines: Counter[str] = Counter()
    series: list[dict[str, int]] = []
    for hour in hours:
        for kind in _REFUSALS:
            reasons = hour.reasons.get(kind.value, {})
            refusals.update(reasons)
            unexplained = hour.counts[kind.value] - sum(reasons.values())
            if unexplained > 0:
                refusals[kind.value] += unexplained
        declines.update(hour.reasons.get(Signal.CHARGE_DECLINED.value, {}))
        unexplained = hour.counts[Signal.CHARGE_DECLINED.value] - sum(
            hour.reasons.get(Signal.CHARGE_DECLINED.value, {}).values()
        )
        if unexplained > 0:
            declines["unspecified"] += unexplained
        series.append(
            {
                "tokenized": hour.counts[Signal.TOKENIZED.value],
                "refused": sum(hour.counts[k.value] for k in _REFUSALS),
                "declined": hour.counts[Signal.CHARGE_DECLINED.value],
            }
        )

    since = timezone.now() - timedelta(hours=24)
    recent = SecurityAlert.objects.filter(raised_at__gte=since)
    by_rule = [
        (row["rule"], row["n"])
        for row in recent.values("rule").annotate(n=Count("id")).order_by("-n", "rule")
    ]

    peak = max([1, *(v for point in series for v in point.values())])
    slot = CHART_WIDTH / len(hours)
    bar_width = slot / (len(SERIES) + 1)
    bars: list[Bar] = []
    ticks: list[Tick] = []
    for index, (hour, point) in enumerate(zip(hours, series, strict=True)):
        for offset, (key, label, colour) in enumerate(SERIES):
            height = (_PLOT_BOTTOM - _PLOT_TOP) * point[key] / peak
            bars.append(
                Bar(
                    x=round(index * slot + offset * bar_width, 2),
                    y=round(_PLOT_BOTTOM - height, 2),
                    width=round(bar_width, 2),
                    height=round(height, 2),
                    fill=colour,
                    title=f"{hour.hour_start:%H:00} UTC: {point[key]} {label.lower()}",
                )
            )
        if index % 4 == 0:
            ticks.append(Tick(x=round(index * slot, 2), label=f"{hour.hour_start:%H:00}"))

    return Overview(
        tokenized=sum(p["tokenized"] for p in series),
        refusals=refusals.most_common(),
        declines=declines.most_common(),
        alerts_by_rule=by_rule,
        open_alerts=SecurityAlert.objects.filter(status=SecurityAlert.Status.OPEN).count(),
        bars=bars,
        ticks=ticks,
        peak=peak,
    )
