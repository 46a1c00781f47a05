"""Cool-offs: a source that tripped a rule waits before it may try again.

A cool-off is an expiry time on the shared counter store, per scope and source (an address, a
checkout session, a merchant's API client…): ``cooloff_check`` reads every source of a request
in one round trip, ``cooloff_enforce`` refuses with ``SourceCoolingOff`` (its message says how
long to wait). The engine starts them when a rule fires.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from monitoring.security.counters import CounterStore, counter_store
from monitoring.security.models import SecurityAlert
from monitoring.security.rules import event_sources
from payments_site.kernel.errors import DomainError


def _now() -> float:
    return time.time()


def _cooloff_key(scope: str, source: str) -> str:
    return f"cool:{scope}:{source}"


def cooloff_until(store: CounterStore, scope: str, source: str) -> float | None:
    until = store.get_float(_cooloff_key(scope, source))
    return until if until is not None and until > _now() else None


def cooloff_start(
    store: CounterStore, *, scope: str, source: str, seconds: int, now: float
) -> float:
    """Make ``source`` wait ``seconds`` from ``now`` (never shortening a longer cool-off);
    returns when it ends."""
    until = now + seconds
    ttl = seconds + 1
    key = _cooloff_key(scope, source)
    current = store.get_float(key)
    until = max(until, current or 0.0)
    store.set_float(key, until, ttl=max(ttl, math.ceil(until - now) + 1))
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
    sources = event_sources(
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
