"""The audit trail: appending next to a plain insert, the sealer next to the charge rate, and
the unsealed window under load, all measured in the same run.

- **append**: ``audit_record`` (redaction, digest, one INSERT, its own commit) against a plain
  ORM insert of the same row into the same table (same indexes, same commit), from 1 and from
  8 threads, each on its own connection. Interleaved rounds (a batch of each per round, order
  alternating), the median of the per-round ratios and their quartiles: run-to-run noise on a
  shared machine moves both sides of a round alike. With no lock, 8 threads scale like the
  plain insert.
- **sealer**: events sealed per second by ``seal_pending`` over a backlog, against charges per
  second through ``charge_create`` (sandbox processor, no latency) in this process, and the
  audit events each charge writes.
- **window**: charges from 4 threads for a few seconds while a sealer runs every
  ``AUDIT_SEAL_INTERVAL_SECONDS`` as beat would: for every event, the time from its
  ``occurred_at`` to its seal, and to the first signed seal after it.
"""

from __future__ import annotations

import os
import secrets
import statistics
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone

from checkout.payments.services import charge_create
from monitoring.audit import services
from monitoring.audit.models import AuditEvent, AuditSeal
from monitoring.audit.sealer import seal_pending
from monitoring.audit.services import audit_record
from tests.bench.registry import BenchContext, bench, timed
from vault.cards import card_validate
from vault.envelope import data_keys
from vault.merchants import merchant_create
from vault.services import token_create

APPENDS = int(os.environ.get("BENCH_AUDIT_APPENDS", "6000"))  # per kind and thread count
ROUNDS = int(os.environ.get("BENCH_AUDIT_ROUNDS", "20"))
BACKLOG = int(os.environ.get("BENCH_AUDIT_BACKLOG", "20000"))
CHARGES = int(os.environ.get("BENCH_AUDIT_CHARGES", "300"))
WINDOW_SECONDS = float(os.environ.get("BENCH_AUDIT_WINDOW_SECONDS", "12"))
PLAIN_DIGEST = "0" * 64
CARD = "4242424242424242"  # a public test card (benches live under tests/)


def _plain_insert(i: int) -> None:
    AuditEvent.objects.create(
        occurred_at=timezone.now(),
        actor="bench",
        action="token.create",
        object_type="token",
        object_id=f"tok_{i}",
        outcome="success",
        reason="",
        source_ip=None,
        request_id="",
        data={"n": i},
        digest=PLAIN_DIGEST,  # the same width as a real digest: same row, same bytes
    )


def _append(i: int) -> None:
    audit_record(
        action="token.create",
        actor="bench",
        object_type="token",
        object_id=f"tok_{i}",
        data={"n": i},
    )


def _threaded(fn: Callable[[int], None], total: int, threads: int) -> float:
    """Seconds for ``total`` calls spread over ``threads`` threads (own connections)."""
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(offset, total, threads):
                fn(i)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    with timed() as took:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    if errors:
        raise errors[0]
    return took.seconds


def _charger(merchant: Any, token_id: str) -> Callable[[int], None]:
    def charge(i: int) -> None:
        charge_create(
            merchant=merchant,
            token_id=token_id,
            amount=1999,
            currency="EUR",
            idempotency_key=secrets.token_hex(16),
        )

    return charge


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@bench("monitoring.audit")
def audit_bench(ctx: BenchContext) -> None:
    data_keys.clear()
    vendor = connections["default"].vendor
    # Beat seals elsewhere: no inline sealing inside the measured writes.
    inline = services.seal_soon
    services.seal_soon = lambda: None
    try:
        _append_rows(ctx, vendor)
        _sealer_rows(ctx)
        _window_rows(ctx)
    finally:
        services.seal_soon = inline


def _append_rows(ctx: BenchContext, vendor: str) -> None:
    for i in range(100):  # warm connection, statement caches, redaction
        _plain_insert(i)
        _append(i)
    batch = max(1, APPENDS // ROUNDS)
    ctx.row(
        f"audit append ({vendor}, {ROUNDS} rounds of {batch:,} rows each)",
        "rows/s",
        "time × plain",
        "p25–p75",
    )
    for threads in (1, 8):
        # This machine is shared and noisy: each round times a batch of each, the order
        # alternating round to round so a drift favours neither, and the figure is the median
        # of the per-round ratios (each ratio taken a few seconds apart, on the same load).
        plains: list[float] = []
        ratios: list[float] = []
        appends: list[float] = []
        for n in range(ROUNDS):
            if n % 2:
                append = _threaded(_append, batch, threads)
                plain = _threaded(_plain_insert, batch, threads)
            else:
                plain = _threaded(_plain_insert, batch, threads)
                append = _threaded(_append, batch, threads)
            plains.append(plain)
            appends.append(append)
            ratios.append(append / plain)
        quartiles = statistics.quantiles(ratios, n=4)
        ctx.row(
            f"plain insert, {threads} thread(s)",
            f"{batch / statistics.median(plains):,.0f}",
            "1.00",
            "",
        )
        ctx.row(
            f"audit_record, {threads} thread(s)",
            f"{batch / statistics.median(appends):,.0f}",
            f"{statistics.median(ratios):.2f}",
            f"{quartiles[0]:.2f}–{quartiles[2]:.2f}",
        )
    seal_pending(sign=True)  # what the append rows left, before the next measurements


def _sealer_rows(ctx: BenchContext) -> None:
    merchant = merchant_create(name="Bench audit").in_mode(False)
    card = card_validate(number=CARD, exp_month=12, exp_year=2034, require_cvc=False)
    token = token_create(merchant=merchant, card=card, actor="bench")
    charge = _charger(merchant, token.id)
    for i in range(20):
        charge(i)
    before = AuditEvent.objects.count()
    with timed() as took:
        for i in range(CHARGES):
            charge(i)
    charge_rate = CHARGES / took.seconds
    per_charge = (AuditEvent.objects.count() - before) / CHARGES

    seal_pending(sign=True)
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                occurred_at=timezone.now(),
                actor="bench",
                action="backlog",
                outcome="success",
                digest=secrets.token_hex(32),
            )
            for _ in range(BACKLOG)
        ],
        batch_size=2000,
    )
    sealed, runs = 0, 0
    with timed() as took:
        while sealed < BACKLOG:
            outcome = seal_pending(sign=None)
            sealed, runs = sealed + outcome.sealed, runs + 1
    seal_rate = sealed / took.seconds
    events_per_second = charge_rate * max(per_charge, 1.0)
    ctx.row("sealer vs charges (same run)", "per second", "× charges")
    ctx.row(f"charge_create ({per_charge:.1f} audit events each)", f"{charge_rate:,.0f}", "1.00")
    ctx.row(
        f"sealer: {sealed:,} events, {runs} runs",
        f"{seal_rate:,.0f}",
        f"{seal_rate / charge_rate:.1f}",
    )
    ctx.row(
        "sealer ÷ audit events written by charges",
        "",
        f"{seal_rate / events_per_second:.1f}",
    )


def _window_rows(ctx: BenchContext) -> None:
    merchant = merchant_create(name="Bench audit window").in_mode(False)
    card = card_validate(number=CARD, exp_month=12, exp_year=2034, require_cvc=False)
    token = token_create(merchant=merchant, card=card, actor="bench")
    charge = _charger(merchant, token.id)
    seal_pending(sign=True)
    start_id = (
        AuditSeal.objects.order_by("-number").values_list("high_id", flat=True).first()
    ) or 0
    stop = threading.Event()
    errors: list[BaseException] = []

    def sealing() -> None:
        try:
            while not stop.is_set():
                seal_pending()
                stop.wait(settings.AUDIT_SEAL_INTERVAL_SECONDS)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def load(n: int) -> None:
        try:
            i = 0
            while not stop.is_set():
                charge(n * 1_000_000 + i)
                i += 1
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sealing)] + [
        threading.Thread(target=load, args=(n,)) for n in range(4)
    ]
    for thread in threads:
        thread.start()
    time.sleep(WINDOW_SECONDS)
    stop.set()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    seal_pending(sign=True)

    written = dict(AuditEvent.objects.filter(id__gt=start_id).values_list("id", "occurred_at"))
    sealed_at: dict[int, datetime] = {}
    signed_after: dict[int, datetime] = {}
    pending: list[int] = []
    for seal in AuditSeal.objects.filter(high_id__gt=start_id).order_by("number"):
        ids = [pair[0] for pair in seal.events if pair[0] in written]
        for event_id in ids:
            sealed_at[event_id] = seal.sealed_at
        pending.extend(ids)
        if seal.signature:
            for event_id in pending:
                signed_after[event_id] = seal.sealed_at
            pending = []
    to_seal = [(sealed_at[i] - written[i]).total_seconds() for i in written if i in sealed_at]
    to_sign = [(signed_after[i] - written[i]).total_seconds() for i in written if i in signed_after]
    rate = len(written) / WINDOW_SECONDS
    ctx.row(
        f"unsealed window under load ({len(written):,} events, {rate:,.0f}/s)",
        "p50 s",
        "p99 s",
        "max s",
    )
    for label, values in (("commit → sealed", to_seal), ("commit → signed", to_sign)):
        ctx.row(
            label,
            f"{statistics.median(values):.2f}",
            f"{_percentile(values, 0.99):.2f}",
            f"{max(values):.2f}",
        )
    missing = len(written) - len(to_seal)
    ctx.row("events left unsealed", f"{missing}", "", "")
