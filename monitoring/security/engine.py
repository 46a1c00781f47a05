"""Unusual patterns: rules over shared counters that raise alerts and cool sources off.

The vault, checkout and charges code report what happened with one call,
``signal_record(Signal.X, ip=…, merchant_id=…, session_id=…, fingerprint=…, reason=…)``, and
ask before doing work whether the source must wait: ``cooloff.cooloff_check(...)`` (returns
the cool-off or None), ``cooloff.cooloff_enforce(...)`` (raises ``SourceCoolingOff``, told to
wait ``retry_after`` seconds), and at the HTTP edge ``http.cooloff_guard`` for Django views
(a friendly HTML page or problem+json) or ``http.CooloffThrottle`` for DRF views. Monitoring
only records the ids it is handed; it imports neither the vault nor the checkout.

Counting: each rule keeps counts (or distinct members) per fixed window on the counter store
(Redis when configured) and estimates a sliding window as ``current + previous × (share of the
previous window still inside the sliding one)``, so a burst that straddles a window edge is
seen whole. When a rule's value reaches its threshold it fires once per rule, source and
window: one ``SecurityAlert`` (also unique in the database), a structured log event, a Sentry
message when Sentry is on, a metric, an audit event, and a cool-off for the source. While a
source cools off, no cooling rule fires for it again: one attack, one alert.

The rules and their thresholds are in ``rules.py``.
``signal_record`` also counts the Prometheus metrics and the admin overview's hourly figures:
callers make that one call per event and nothing else.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import sentry_sdk
from django.db import IntegrityError, transaction

from monitoring.audit.services import audit_record
from monitoring.observability import metrics
from monitoring.security.cooloff import cooloff_start, cooloff_until
from monitoring.security.counters import CounterStore, Op, counter_store
from monitoring.security.models import SecurityAlert
from monitoring.security.rules import Measure, Rule, Signal, event_sources, rules
from payments_site.kernel.errors import DEPENDENCY_ERRORS

logger = logging.getLogger(__name__)


def _now() -> float:
    return time.time()


# --- recording ---------------------------------------------------------------------------------


@dataclass
class _Context:
    store: CounterStore
    now: float
    sources: dict[SecurityAlert.Scope, str] = field(default_factory=dict)


def signal_record(
    kind: Signal | str | Sequence[Signal | str],
    *,
    ip: str | None = None,
    merchant_id: str | None = None,
    session_id: str | None = None,
    fingerprint: str | None = None,
    client: str | None = None,
    everywhere: bool = False,
    reason: str = "",
) -> list[SecurityAlert]:
    """Record one event and run the rules it feeds. Returns the alerts this event raised.

    Pass every id you have; a rule whose scope has no id in this call is skipped. ``ip`` is a
    shopper's address; ``client`` an API client (``api_client_source``); ``everywhere`` also
    counts the event under the one global source. Never pass card data:
    ``fingerprint`` is the vault's keyed MAC, not a number. An event that is several signals
    at once (a card submitted *and* tokenized) passes them together: ``kind=[A, B]``.

    Every counter update and every read the rules need go to the store as one batch (one
    Redis round trip); only a rule that reaches its threshold costs more (its cool-off and
    de-duplication), and that happens once per attack.
    """
    signals = [Signal(kind)] if isinstance(kind, str) else [Signal(k) for k in kind]
    ctx = _Context(
        store=counter_store(),
        now=_now(),
        sources=event_sources(
            ip=ip,
            merchant_id=merchant_id,
            session_id=session_id,
            fingerprint=fingerprint,
            client=client,
            everywhere=everywhere,
        ),
    )
    ops: list[Op] = []
    planned: list[tuple[Rule, Signal, str, int]] = []  # rule, signal, source, first answer
    for signal in signals:
        ops.extend(_dashboard_ops(ctx, signal, reason))
        for rule in rules():
            source = ctx.sources.get(rule.scope)
            if signal not in rule.signals or source is None:
                continue
            rule_ops = _rule_ops(ctx, rule, signal, source, fingerprint)
            if rule_ops:
                planned.append((rule, signal, source, len(ops)))
                ops.extend(rule_ops)
    try:
        answers = ctx.store.batch(ops)
    except DEPENDENCY_ERRORS as exc:
        # Signals are recorded after the work they describe (a card stored, a charge made):
        # its answer must not be lost to a monitoring outage. The gates before the work
        # (``cooloff_check``) fail closed instead, so nothing new starts unwatched.
        logger.error(
            "signal_record_failed",
            extra={"signals": [s.value for s in signals], "error": type(exc).__name__},
        )
        return []
    raised: list[SecurityAlert] = []
    for signal in signals:
        _count_metrics(signal, reason)
    for rule, signal, source, first in planned:
        observed = _measure(ctx, rule, signal, answers[first:])
        if observed is not None:
            alert = _fire(ctx, rule, source, observed)
            if alert is not None:
                raised.append(alert)
    return raised


def _window(rule: Rule, now: float) -> tuple[int, float]:
    """Index of the current fixed window and the share of the previous one still in view."""
    index = math.floor(now / rule.window_seconds)
    elapsed = (now - index * rule.window_seconds) / rule.window_seconds
    return index, 1.0 - elapsed


def _rule_ops(
    ctx: _Context, rule: Rule, signal: Signal, source: str, fingerprint: str | None
) -> list[Op]:
    """The counter updates and reads one rule needs for this event (``_measure`` reads the
    answers in the same order)."""
    index, _ = _window(rule, ctx.now)
    ttl = rule.window_seconds * 2 + 60
    base = f"r:{rule.name}:{source}"
    if rule.measure is Measure.COUNT:
        return [Op("incr", f"{base}:{index}", ttl=ttl), Op("get_int", f"{base}:{index - 1}")]
    if rule.measure is Measure.DISTINCT:
        if not fingerprint:
            return []
        return [
            Op("distinct_add", f"{base}:{index}", member=fingerprint, ttl=ttl),
            Op("distinct_count", f"{base}:{index - 1}"),
        ]
    outcome = "d" if signal is Signal.CHARGE_DECLINED else "s"
    return [
        Op("incr", f"{base}:{index}:{outcome}", ttl=ttl),
        *(Op("get_int", f"{base}:{i}:{o}") for i in (index, index - 1) for o in ("d", "s")),
    ]


def _measure(ctx: _Context, rule: Rule, signal: Signal, answers: list[int]) -> float | None:
    """The rule's value from its answers, if it reaches the threshold."""
    _, weight = _window(rule, ctx.now)
    if rule.measure in (Measure.COUNT, Measure.DISTINCT):
        current, previous = answers[0], answers[1]
        value = current + previous * weight
    else:
        d, s, pd, ps = answers[1:5]
        if signal is not Signal.CHARGE_DECLINED:
            return None
        if rule.jump:
            # A jump is compared window to window: a sliding mix would dilute it.
            if d + s < rule.min_events:
                return None
            value = d / (d + s)
            baseline = pd / (pd + ps) if pd + ps >= rule.min_events else 0.0
            if value - baseline < rule.jump:
                return None
        else:
            # A plain ratio slides like the counts, so a run that straddles a window edge is
            # still seen whole.
            declines, events = d + pd * weight, d + s + (pd + ps) * weight
            if events < rule.min_events:
                return None
            value = declines / events
    return value if value >= rule.threshold else None


def _fire(ctx: _Context, rule: Rule, source: str, observed: float) -> SecurityAlert | None:
    if rule.cooloff_seconds and cooloff_until(ctx.store, rule.scope, source):
        return None  # the source is cooling off already: it has its alert
    index, _ = _window(rule, ctx.now)
    if not ctx.store.add_flag(f"fired:{rule.name}:{source}:{index}", ttl=rule.window_seconds * 2):
        return None
    cooloff_ends = None
    if rule.cooloff_seconds:
        cooloff_ends = cooloff_start(
            ctx.store,
            scope=rule.scope,
            source=source,
            seconds=rule.cooloff_seconds,
            now=ctx.now,
        )
    window_start = datetime.fromtimestamp(index * rule.window_seconds, tz=UTC)
    try:
        with transaction.atomic():
            alert = SecurityAlert.objects.create(
                rule=rule.name,
                scope=rule.scope,
                source=source,
                window_start=window_start,
                raised_at=datetime.fromtimestamp(ctx.now, tz=UTC),
                observed=round(observed, 4),
                threshold=rule.threshold,
                severity=rule.severity,
                detail={
                    "window_seconds": rule.window_seconds,
                    "measure": rule.measure.value,
                    "related": {k.value: v for k, v in ctx.sources.items() if k != rule.scope},
                },
                cooloff_until=(
                    datetime.fromtimestamp(cooloff_ends, tz=UTC) if cooloff_ends else None
                ),
            )
    except IntegrityError:
        return None  # another server raised it first (its cache flag was lost)
    _announce(alert)
    return alert


def alert_raise(
    *,
    rule: str,
    source: str,
    since: datetime,
    observed: float = 1.0,
    threshold: float = 1.0,
    severity: str = SecurityAlert.Severity.CRITICAL,
    detail: dict[str, Any] | None = None,
) -> SecurityAlert | None:
    """Raise an operator alert that no counting rule measures (a processor's word conflicting
    with ours, an answer overdue): once per rule, source and ``since`` (the database refuses a
    second), announced like every alert. Returns it, or None when it was raised already."""
    try:
        with transaction.atomic():
            alert = SecurityAlert.objects.create(
                rule=rule[:80],
                scope=SecurityAlert.Scope.GLOBAL,
                source=source[:200],
                window_start=since,
                raised_at=datetime.fromtimestamp(_now(), tz=UTC),
                observed=observed,
                threshold=threshold,
                severity=severity,
                detail=dict(detail or {}),
            )
    except IntegrityError:
        return None
    _announce(alert)
    return alert


def _announce(alert: SecurityAlert) -> None:
    event = {
        "alert_id": alert.pk,
        "rule": alert.rule,
        "scope": alert.scope,
        "source": alert.source,
        "observed": alert.observed,
        "threshold": alert.threshold,
        "severity": alert.severity,
        "cooloff_until": alert.cooloff_until.isoformat() if alert.cooloff_until else None,
    }
    logger.warning("security_alert", extra=event)
    metrics.alert_inc(rule=alert.rule)
    audit_record(
        action="security_alert.raise",
        outcome="denied" if alert.cooloff_until else "success",
        object_type="security_alert",
        object_id=str(alert.pk),
        reason=alert.rule[:100],
        data={"scope": alert.scope, "source": alert.source, "observed": alert.observed},
    )
    _report_to_sentry(alert, event)


def _report_to_sentry(alert: SecurityAlert, event: dict[str, Any]) -> None:
    if not sentry_sdk.get_client().is_active():
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("security_alert.rule", alert.rule)
        scope.set_tag("security_alert.scope", alert.scope)
        scope.set_context("security_alert", event)
        scope.fingerprint = ["security_alert", alert.rule, alert.scope, alert.source]
        level: Literal["critical", "warning"] = (
            "critical" if alert.severity == SecurityAlert.Severity.CRITICAL else "warning"
        )
        sentry_sdk.capture_message(f"Security alert: {alert.rule}", level=level)


# --- figures for the admin overview and Prometheus ------------------------------------------

STATS_TTL = 26 * 3600


def _hour(now: float) -> int:
    return math.floor(now / 3600)


def _dashboard_ops(ctx: _Context, signal: Signal, reason: str) -> list[Op]:
    """Hourly figures for the admin overview: per signal, and per reason code."""
    hour = _hour(ctx.now)
    ops = [Op("incr", f"stat:{hour}:{signal.value}", ttl=STATS_TTL)]
    if reason:
        code = metrics.label(reason)
        ops.append(Op("incr", f"stat:{hour}:{signal.value}:{code}", ttl=STATS_TTL))
        ops.append(
            Op("distinct_add_raw", f"statreasons:{hour}:{signal.value}", member=code, ttl=STATS_TTL)
        )
    return ops


def _count_metrics(signal: Signal, reason: str) -> None:
    if signal is Signal.TOKENIZED:
        metrics.tokenization_inc()
    elif signal in (Signal.CARD_INVALID, Signal.JWT_REJECTED):
        metrics.refusal_inc(reason=reason or signal.value)
    elif signal is Signal.JTI_REPLAYED:
        metrics.refusal_inc(reason="jti_replayed")
    elif signal is Signal.CHARGE_SUCCEEDED:
        metrics.charge_inc(status="succeeded")
    elif signal is Signal.CHARGE_DECLINED:
        metrics.charge_inc(status="failed")


@dataclass(frozen=True)
class HourlyFigures:
    hour_start: datetime
    counts: dict[str, int]  # signal → count
    reasons: dict[str, dict[str, int]]  # signal → reason → count


def stats_last_hours(
    *, hours: int = 24, kinds: Iterable[Signal] = tuple(Signal)
) -> list[HourlyFigures]:
    """Hourly counts per signal (and per reason) for the last ``hours`` hours, oldest first."""
    store = counter_store()
    current = _hour(_now())
    kinds = list(kinds)
    out = []
    for hour in range(current - hours + 1, current + 1):
        values = store.get_many_int([f"stat:{hour}:{k.value}" for k in kinds])
        counts = dict(zip([k.value for k in kinds], values, strict=True))
        reasons: dict[str, dict[str, int]] = {}
        for kind in kinds:
            codes = sorted(store.members_raw(f"statreasons:{hour}:{kind.value}"))
            if codes:
                numbers = store.get_many_int([f"stat:{hour}:{kind.value}:{c}" for c in codes])
                reasons[kind.value] = dict(zip(codes, numbers, strict=True))
        out.append(
            HourlyFigures(
                hour_start=datetime.fromtimestamp(hour * 3600, tz=UTC),
                counts=counts,
                reasons=reasons,
            )
        )
    return out
