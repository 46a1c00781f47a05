"""Unusual patterns: rules over shared counters that raise alerts and cool sources off.

The vault, checkout and charges code report what happened with one call,
``signal_record(Signal.X, ip=…, merchant_id=…, session_id=…, fingerprint=…, reason=…)``, and
ask before doing work whether the source must wait: ``cooloff_check(...)`` (returns the cool-off
or None), ``cooloff_enforce(...)`` (raises a 429 problem with Retry-After), the
``cooloff_guard`` decorator for Django views (a friendly HTML page or problem+json), or
``CooloffThrottle`` for DRF views. Monitoring only records the ids it is handed; it imports
neither the vault nor the checkout.

Counting: each rule keeps counts (or distinct members) per fixed window on the counter store
(Redis when configured) and estimates a sliding window as ``current + previous × (share of the
previous window still inside the sliding one)``, so a burst that straddles a window edge is
seen whole. When a rule's value reaches its threshold it fires once per rule, source and
window: one ``SecurityAlert`` (also unique in the database), a structured log event, a Sentry
message when Sentry is on, a metric, an audit event, and a cool-off for the source. While a
source cools off, no cooling rule fires for it again: one attack, one alert.

Thresholds live in ``settings.ANOMALY_RULES`` (partial overrides merge over ``DEFAULT_RULES``).
``signal_record`` also counts the Prometheus metrics and the admin overview's hourly figures:
callers make that one call per event and nothing else.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from monitoring.models import SecurityAlert
from monitoring.observability import metrics
from monitoring.observability.clientip import client_ip
from monitoring.security.counters import CounterStore, Op, counter_store
from payments_site.kernel.errors import DEPENDENCY_ERRORS, DomainError
from payments_site.problems import error_response

logger = logging.getLogger(__name__)

Scope = SecurityAlert.Scope


class Signal(StrEnum):
    """What happened. ``reason`` (a short error code) qualifies refusals and declines."""

    CARD_SUBMITTED = "card_submitted"  # a card reached the vault; fingerprint known
    CARD_INVALID = "card_invalid"  # card fields failed validation (reason: invalid_number…)
    TOKENIZED = "tokenized"  # a token was issued
    CHARGE_SUCCEEDED = "charge_succeeded"
    CHARGE_DECLINED = "charge_declined"  # reason: the processor's failure code
    JWT_REJECTED = "jwt_rejected"  # reason: bad_signature, expired, wrong_audience…
    JTI_REPLAYED = "jti_replayed"  # a card JWT's jti was seen before


class Measure(StrEnum):
    COUNT = "count"  # events in the window
    DISTINCT = "distinct"  # distinct card fingerprints in the window
    DECLINE_RATIO = "decline_ratio"  # declines / (declines + successes), and its jump


@dataclass(frozen=True)
class Rule:
    name: str
    signals: frozenset[Signal]
    scope: SecurityAlert.Scope
    measure: Measure
    threshold: float
    window_seconds: int
    cooloff_seconds: int
    severity: SecurityAlert.Severity = SecurityAlert.Severity.WARNING
    min_events: int = 0  # decline ratio: fewer attempts than this never fire
    jump: float = 0.0  # decline ratio: must exceed the previous window's ratio by this much


_CARD_EVENTS = frozenset({Signal.CARD_SUBMITTED, Signal.CHARGE_DECLINED})
_FAILURES = frozenset({Signal.CARD_INVALID, Signal.CHARGE_DECLINED})

# Defaults sized for card testing: a shopper rarely tries more than three cards, a tester tries
# dozens. Merchant-wide rules alert without a cool-off: stopping a merchant's whole checkout is
# an operator's decision.
DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "card_testing.distinct_cards.ip": {
        "signals": _CARD_EVENTS, "scope": Scope.IP, "measure": Measure.DISTINCT,
        "threshold": 8, "window_seconds": 600, "cooloff_seconds": 1800, "severity": "critical",
    },
    "card_testing.distinct_cards.session": {
        "signals": _CARD_EVENTS, "scope": Scope.SESSION, "measure": Measure.DISTINCT,
        "threshold": 5, "window_seconds": 1800, "cooloff_seconds": 1800, "severity": "critical",
    },
    "card_testing.distinct_cards.merchant": {
        "signals": _CARD_EVENTS, "scope": Scope.MERCHANT, "measure": Measure.DISTINCT,
        "threshold": 500, "window_seconds": 600, "cooloff_seconds": 0,
    },
    "card_testing.failures.ip": {
        "signals": _FAILURES, "scope": Scope.IP, "measure": Measure.COUNT,
        "threshold": 10, "window_seconds": 600, "cooloff_seconds": 1800, "severity": "critical",
    },
    "card_testing.failures.session": {
        "signals": _FAILURES, "scope": Scope.SESSION, "measure": Measure.COUNT,
        "threshold": 6, "window_seconds": 1800, "cooloff_seconds": 1800,
    },
    "card_testing.failures.merchant": {
        "signals": _FAILURES, "scope": Scope.MERCHANT, "measure": Measure.COUNT,
        "threshold": 300, "window_seconds": 600, "cooloff_seconds": 0,
    },
    "declines.fingerprint": {
        "signals": frozenset({Signal.CHARGE_DECLINED}), "scope": Scope.FINGERPRINT,
        "measure": Measure.COUNT, "threshold": 5, "window_seconds": 3600,
        "cooloff_seconds": 3600,
    },
    "declines.merchant_ratio": {
        "signals": frozenset({Signal.CHARGE_DECLINED, Signal.CHARGE_SUCCEEDED}),
        "scope": Scope.MERCHANT, "measure": Measure.DECLINE_RATIO, "threshold": 0.5,
        "min_events": 20, "jump": 0.3, "window_seconds": 900, "cooloff_seconds": 0,
    },
    # A merchant's API client (its server's address): a server legitimately charges many
    # distinct cards, so only a decline ratio far above any real shop's marks card testing.
    "card_testing.declines.client": {
        "signals": frozenset({Signal.CHARGE_DECLINED, Signal.CHARGE_SUCCEEDED}),
        "scope": Scope.CLIENT, "measure": Measure.DECLINE_RATIO, "threshold": 0.8,
        "min_events": 20, "jump": 0.0, "window_seconds": 600, "cooloff_seconds": 1800,
        "severity": "critical",
    },
    "jwt.rejections.ip": {
        "signals": frozenset({Signal.JWT_REJECTED}), "scope": Scope.IP,
        "measure": Measure.COUNT, "threshold": 20, "window_seconds": 300,
        "cooloff_seconds": 900,
    },
    "jwt.replay": {
        "signals": frozenset({Signal.JTI_REPLAYED}), "scope": Scope.IP,
        "measure": Measure.COUNT, "threshold": 1, "window_seconds": 3600,
        "cooloff_seconds": 3600, "severity": "critical",
    },
}  # fmt: skip


_rules_cache: tuple[dict[str, Any], dict[str, Any], list[Rule]] | None = None


def rules() -> list[Rule]:
    """The rules in force: ``DEFAULT_RULES`` with ``settings.ANOMALY_RULES`` merged over them
    (a rule set to ``None`` there is switched off). Built once and rebuilt when either
    changes: this runs on every signal, on the card hot path."""
    global _rules_cache
    overrides: dict[str, dict[str, Any] | None] = getattr(settings, "ANOMALY_RULES", {})
    cached = _rules_cache
    if cached is not None and cached[0] == overrides and cached[1] == DEFAULT_RULES:
        return cached[2]
    out = []
    for name in {**DEFAULT_RULES, **overrides}:
        if name in overrides and overrides[name] is None:
            continue
        spec = {**DEFAULT_RULES.get(name, {}), **(overrides.get(name) or {})}
        spec["signals"] = frozenset(Signal(s) for s in spec["signals"])
        spec["scope"] = SecurityAlert.Scope(spec["scope"])
        spec["measure"] = Measure(spec["measure"])
        spec["severity"] = SecurityAlert.Severity(spec.get("severity", "warning"))
        out.append(Rule(name=name, **spec))
    _rules_cache = (copy.deepcopy(overrides), copy.deepcopy(DEFAULT_RULES), out)
    return out


def _now() -> float:
    return time.time()


# --- recording ---------------------------------------------------------------------------------


@dataclass
class _Context:
    store: CounterStore
    now: float
    sources: dict[SecurityAlert.Scope, str] = field(default_factory=dict)


def _sources(
    *,
    ip: str | None,
    merchant_id: str | None,
    session_id: str | None,
    fingerprint: str | None,
    client: str | None = None,
) -> dict[SecurityAlert.Scope, str]:
    pairs = {
        Scope.IP: ip,
        Scope.MERCHANT: merchant_id,
        Scope.SESSION: session_id,
        Scope.FINGERPRINT: fingerprint,
        Scope.CLIENT: client,
    }
    return {scope: str(value)[:200] for scope, value in pairs.items() if value}


def api_client_source(*, merchant_id: str, ip: str | None) -> str | None:
    """The source id of a merchant's API client: the merchant and the address it calls from.

    A merchant's server charges many shoppers' cards from one address, so API traffic is never
    counted as a shopper's address (``ip``); it is a source of its own, with rules sized for a
    server (decline ratio rather than distinct cards), and its cool-off stops only that server
    of that merchant.
    """
    return f"{merchant_id}@{ip}" if ip else None


def signal_record(
    kind: Signal | str | Sequence[Signal | str],
    *,
    ip: str | None = None,
    merchant_id: str | None = None,
    session_id: str | None = None,
    fingerprint: str | None = None,
    client: str | None = None,
    reason: str = "",
) -> list[SecurityAlert]:
    """Record one event and run the rules it feeds. Returns the alerts this event raised.

    Pass every id you have; a rule whose scope has no id in this call is skipped. ``ip`` is a
    shopper's address; ``client`` an API client (``api_client_source``). Never pass card data:
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
        sources=_sources(
            ip=ip,
            merchant_id=merchant_id,
            session_id=session_id,
            fingerprint=fingerprint,
            client=client,
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
    if rule.cooloff_seconds and _cooloff_until(ctx.store, rule.scope, source):
        return None  # the source is cooling off already: it has its alert
    index, _ = _window(rule, ctx.now)
    if not ctx.store.add_flag(f"fired:{rule.name}:{source}:{index}", ttl=rule.window_seconds * 2):
        return None
    cooloff_until = None
    if rule.cooloff_seconds:
        cooloff_until = _cooloff_start(ctx, rule, source)
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
                    datetime.fromtimestamp(cooloff_until, tz=UTC) if cooloff_until else None
                ),
            )
    except IntegrityError:
        return None  # another server raised it first (its cache flag was lost)
    _announce(alert)
    return alert


def _announce(alert: SecurityAlert) -> None:
    from monitoring.audit.services import audit_record

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
    import sentry_sdk

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


# --- cool-off ----------------------------------------------------------------------------------


def _cooloff_key(scope: str, source: str) -> str:
    return f"cool:{scope}:{source}"


def _cooloff_until(store: CounterStore, scope: str, source: str) -> float | None:
    until = store.get_float(_cooloff_key(scope, source))
    return until if until is not None and until > _now() else None


def _cooloff_start(ctx: _Context, rule: Rule, source: str) -> float:
    until = ctx.now + rule.cooloff_seconds
    ttl = rule.cooloff_seconds + 1
    key = _cooloff_key(rule.scope, source)
    current = ctx.store.get_float(key)
    until = max(until, current or 0.0)
    ctx.store.set_float(key, until, ttl=max(ttl, math.ceil(until - ctx.now) + 1))
    return until


@dataclass(frozen=True)
class Cooloff:
    scope: SecurityAlert.Scope
    source: str
    retry_after: int  # seconds

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def cooloff_check(
    *,
    ip: str | None = None,
    merchant_id: str | None = None,
    session_id: str | None = None,
    fingerprint: str | None = None,
    client: str | None = None,
) -> Cooloff | None:
    """The longest active cool-off among the given sources, or None: one cache read (MGET),
    cheap enough to call before every card submission."""
    store = counter_store()
    now = _now()
    found: Cooloff | None = None
    sources = _sources(
        ip=ip,
        merchant_id=merchant_id,
        session_id=session_id,
        fingerprint=fingerprint,
        client=client,
    )
    untils = store.get_many_float(
        [_cooloff_key(scope, source) for scope, source in sources.items()]
    )
    for (scope, source), until in zip(sources.items(), untils, strict=True):
        if until is not None and until > now:
            remaining = math.ceil(until - now)
            if found is None or remaining > found.retry_after:
                found = Cooloff(scope=scope, source=source, retry_after=remaining)
    return found


class SourceCoolingOff(DomainError):
    code = "too_many_attempts"

    def __init__(self, cooloff: Cooloff) -> None:
        self.cooloff = cooloff
        super().__init__(cooloff_message(cooloff), retry_after=cooloff.retry_after)


def cooloff_message(cooloff: Cooloff) -> str:
    return str(
        _(
            "We have seen an unusual number of attempts. For your security, please wait "
            "%(minutes)s minutes before you try again."
        )
        % {"minutes": cooloff.retry_after_minutes}
    )


def cooloff_enforce(
    *,
    ip: str | None = None,
    merchant_id: str | None = None,
    session_id: str | None = None,
    fingerprint: str | None = None,
    client: str | None = None,
) -> None:
    """Raise ``SourceCoolingOff`` (429 problem+json, Retry-After) if any source cools off."""
    cooloff = cooloff_check(
        ip=ip,
        merchant_id=merchant_id,
        session_id=session_id,
        fingerprint=fingerprint,
        client=client,
    )
    if cooloff is not None:
        raise SourceCoolingOff(cooloff)


def cooloff_response(request: HttpRequest, cooloff: Cooloff) -> HttpResponse:
    """The friendly 429: an HTML page for people, problem+json for API clients."""
    headers = {"Retry-After": str(cooloff.retry_after), "Cache-Control": "no-store"}
    if request.path.startswith(("/api/", "/vault/")) or "json" in request.headers.get("Accept", ""):
        return error_response(SourceCoolingOff(cooloff), request, headers=headers)
    response = TemplateResponse(
        request,
        "monitoring/cooloff.html",
        {
            "title": _("Please wait a moment"),
            "minutes": cooloff.retry_after_minutes,
            "message": cooloff_message(cooloff),
        },
        status=429,
    )
    for name, value in headers.items():
        response[name] = value
    return response


def cooloff_guard(
    *, session_kwarg: str | None = None
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorator for Django views: answer the friendly 429 while the client's address (or the
    checkout session named by the URL kwarg ``session_kwarg``) cools off.

    ``@cooloff_guard(session_kwarg="session_id")`` on ``def checkout_page(request, session_id)``.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            session = str(kwargs.get(session_kwarg, "")) if session_kwarg else None
            cooloff = cooloff_check(ip=client_ip(request), session_id=session or None)
            if cooloff is not None:
                return cooloff_response(request, cooloff)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


class CooloffThrottle(BaseThrottle):
    """DRF: ``throttle_classes = [CooloffThrottle]`` answers 429 + Retry-After while the
    client's address, the authenticated merchant or that merchant's client at this address
    (``api_client_source``) cools off. It raises ``SourceCoolingOff`` itself, so the problem
    says ``too_many_attempts`` with the cool-off's message, not a generic rate limit."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        merchant_id = getattr(request.user, "id", None) if request.auth is not None else None
        ip = client_ip(request._request)
        self._cooloff = cooloff_check(
            ip=ip,
            merchant_id=str(merchant_id) if merchant_id else None,
            client=api_client_source(merchant_id=str(merchant_id), ip=ip) if merchant_id else None,
        )
        if self._cooloff is not None:
            raise SourceCoolingOff(self._cooloff)
        return True

    def wait(self) -> float | None:
        cooloff = getattr(self, "_cooloff", None)
        return float(cooloff.retry_after) if cooloff else None


class CooloffWriteThrottle(CooloffThrottle):
    """``CooloffThrottle`` for writes only: a merchant's server cooling off still reads what
    it already has (charges, sessions), it just cannot try more cards."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            self._cooloff = None
            return True
        return super().allow_request(request, view)


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
