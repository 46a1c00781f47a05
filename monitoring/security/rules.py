"""The unusual-pattern rules: what is counted, per which source, and when it fires.

Thresholds live in ``settings.ANOMALY_RULES`` (partial overrides merge over ``DEFAULT_RULES``;
a rule set to ``None`` is switched off). ``engine.py`` counts the signals and fires the rules,
``cooloff.py`` makes a source wait, ``http.py`` answers those that must.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings

from monitoring.security.models import SecurityAlert

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
    API_KEY_REJECTED = "api_key_rejected"  # a request presented a key that is not valid


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
    # Bad API keys alert and never cool off: anyone can send them, so a cool-off of their
    # address would deny whoever shares it. Each (address, key prefix) pair is locked by
    # ``lockout.py``; guessing itself is defeated by the keys' 256 random bits.
    "api_keys.rejections.ip": {
        "signals": frozenset({Signal.API_KEY_REJECTED}), "scope": Scope.IP,
        "measure": Measure.COUNT, "threshold": 10, "window_seconds": 600, "cooloff_seconds": 0,
    },
    "api_keys.rejections.global": {
        "signals": frozenset({Signal.API_KEY_REJECTED}), "scope": Scope.GLOBAL,
        "measure": Measure.COUNT, "threshold": 100, "window_seconds": 300, "cooloff_seconds": 0,
        "severity": "critical",
    },
}  # fmt: skip


GLOBAL_SOURCE = "all"

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


def event_sources(
    *,
    ip: str | None,
    merchant_id: str | None,
    session_id: str | None,
    fingerprint: str | None,
    client: str | None = None,
    everywhere: bool = False,
) -> dict[SecurityAlert.Scope, str]:
    """The sources an event is counted under, by scope; ``everywhere`` adds the one global
    source (rules over the whole deployment, e.g. bad API keys from every address)."""
    pairs = {
        Scope.IP: ip,
        Scope.MERCHANT: merchant_id,
        Scope.SESSION: session_id,
        Scope.FINGERPRINT: fingerprint,
        Scope.CLIENT: client,
        Scope.GLOBAL: GLOBAL_SOURCE if everywhere else None,
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
