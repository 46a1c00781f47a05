"""``monitoring.security.engine.signal_record`` on the counter store, against one counter
``incr`` on the same store measured in the same run.

``signal_record`` sits on the ingest and charge hot paths (two or three calls per card), so
its cost is reported as "this many incr round trips": on Redis (``REDIS_URL``) that is close
to the number of network round trips it makes; on the process-local cache it is mostly
Python. Every call below runs the rules in full (all four scopes known, a reason code), and
the sources never reach a threshold, as on the hot path.

Measured here (2 cores, Redis on loopback): before the rules' counters were batched,
``CARD_SUBMITTED`` cost 6.8-7.6 incr round trips and ``CHARGE_DECLINED`` 17-18; with one
MULTI/EXEC batch per event they cost 1.6-1.8 and 2.4-2.7, and ``cooloff_check`` (one MGET)
0.6-0.7 instead of 1.2-2.0.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.test import override_settings

from monitoring.security.cooloff import cooloff_check
from monitoring.security.counters import counter_store
from monitoring.security.engine import signal_record
from monitoring.security.rules import Signal
from tests.bench.registry import BenchContext, bench, timed

CALLS = 2000
# The rules stay far from firing: each call is a distinct address, session and card.
QUIET = {
    "card_testing.distinct_cards.merchant": {"threshold": 10**9},
    "card_testing.failures.merchant": {"threshold": 10**9},
    "declines.merchant_ratio": {"min_events": 10**9},
}


def _per_call_us(seconds: float, calls: int) -> float:
    return seconds / calls * 1e6


@bench("monitoring.signals")
def signals(ctx: BenchContext) -> None:
    store = counter_store()
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    calls = min(CALLS, max(200, ctx.cards))
    run = secrets.token_hex(4)
    ctx.row(f"counter store: {backend}", "µs/call", "× incr")
    with override_settings(ANOMALY_RULES=QUIET):
        for i in range(200):  # warm connections and caches
            store.incr(f"bench:{run}:warm:{i}", ttl=60)
            signal_record(Signal.CARD_SUBMITTED, ip=f"10.9.{i % 250}.1", fingerprint=f"w{i}")

        with timed() as base:
            for i in range(calls):
                store.incr(f"bench:{run}:incr:{i % 50}", ttl=60)
        baseline = _per_call_us(base.seconds, calls)
        ctx.row("one counter incr (baseline)", f"{baseline:.1f}", "1.00")

        cases = [
            ("signal CARD_SUBMITTED (4 scopes)", Signal.CARD_SUBMITTED, ""),
            ("signal CHARGE_DECLINED (4 scopes)", Signal.CHARGE_DECLINED, "card_declined"),
            ("signal TOKENIZED", Signal.TOKENIZED, ""),
        ]
        for label, signal, reason in cases:
            with timed() as took:
                for i in range(calls):
                    signal_record(
                        signal,
                        ip=f"10.{i % 200}.{i // 200 % 250}.7",
                        merchant_id=f"mer_bench_{run}",
                        session_id=f"cs_{run}_{i}",
                        fingerprint=f"fp_{run}_{i}",
                        reason=reason,
                    )
            us = _per_call_us(took.seconds, calls)
            ctx.row(label, f"{us:.1f}", f"{us / baseline:.2f}")

        with timed() as took:
            for i in range(calls):
                cooloff_check(ip=f"10.1.{i % 250}.9", session_id=f"cs_{run}_{i}")
        us = _per_call_us(took.seconds, calls)
        ctx.row("cooloff_check (ip + session)", f"{us:.1f}", f"{us / baseline:.2f}")
