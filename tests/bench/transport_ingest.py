"""The card ingest over HTTP on gunicorn (``POST /vault/v1/cards``) next to a bare DRF insert
measured in the same run, at 1 and 16 connections; and KMS calls per ingested card on moto."""

from __future__ import annotations

import itertools
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import override_settings

from checkout.sessions.transport import card_encrypt, card_seal
from tests.bench.registry import BenchContext, bench
from tests.bench.vault_tokens import _aws_settings, _cards
from tests.support.commits import count_commits
from tests.support.kms import bootstrap_keys, moto_server, server_settings
from tests.support.load import LoadResult, run_load
from tests.support.servers import gunicorn
from vault.envelope import data_keys
from vault.keys import get_key_service
from vault.keys.aws import AwsKmsKeyService
from vault.keys.working import WorkingKeyService
from vault.merchants import merchant_create
from vault.transport.ingest import card_ingest

GOAL_RATIO = 0.60
GOAL_FLOOR_RATIO = 0.90
GOAL_KMS_CALLS = 2.0
GOAL_WORKING_KMS_CALLS = 0.01
ROUNDS = 5  # bare/ingest alternations per measurement
WORKERS = 2  # gunicorn sync workers, one per core (ARCHITECTURE.md §8)


_SESSIONS = itertools.count()


def _sealed(merchant_id: str, count: int) -> list[bytes]:
    """One card per checkout session, as shoppers do (a session seen again and again would
    trip the card-testing rules)."""
    out = []
    for card in _cards(count):
        sid = f"cs_bench_{next(_SESSIONS)}"
        payload = {"number": card.number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
        jwe = card_encrypt(payload, session_id=sid, nonce="n", keys=None)
        out.append(
            card_seal(
                jwe, session_id=sid, nonce="n", merchant_id=merchant_id, lifetime=300
            ).encode()
        )
    return out


def _row(ctx: BenchContext, label: str, result: LoadResult, baseline: float | None) -> None:
    ratio = f"{result.rate / baseline:.2f}" if baseline else "1.00"
    ok = sum(n for status, n in result.statuses.items() if status in (200, 201))
    ctx.row(
        label,
        f"{result.rate:,.0f}",
        ratio,
        f"{result.p50_ms:.1f}",
        f"{result.p99_ms:.1f}",
        f"{ok}/{result.requests}",
    )


def _http_runs(ctx: BenchContext, env: dict[str, str], label: str, count: int) -> None:
    merchant = merchant_create(name=f"Bench {label}").in_mode(False)
    with gunicorn(
        cert=None,
        workers=WORKERS,
        env={
            **env,
            "ROOT_URLCONF": "tests.bench.urls",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_ACCESS_LOG": "/dev/null",
        },
    ) as server:
        for connections in (1, 16):
            sealed = _sealed(merchant.id, count)
            # Interleave the three in rounds so a noisy neighbour slows them alike.
            runs: dict[str, list[LoadResult]] = {"bare": [], "floor": [], "work": [], "ingest": []}
            step = max(1, count // ROUNDS)
            for start in range(0, count, step):
                chunk = sealed[start : start + step]
                for name, path in (
                    ("bare", "bare-insert"),
                    ("floor", "bare-insert-ecdh"),
                    ("work", "ingest-work-floor"),
                ):
                    runs[name].append(
                        run_load(
                            f"{server.url}/bench/{path}",
                            [b"{}"] * len(chunk),
                            connections=connections,
                            content_type="application/json",
                        )
                    )
                runs["ingest"].append(
                    run_load(
                        f"{server.url}/vault/v1/cards",
                        chunk,
                        connections=connections,
                        content_type="application/jwt",
                    )
                )
            bare, floor, work, ingest = (
                LoadResult.combine(runs[n]) for n in ("bare", "floor", "work", "ingest")
            )
            _row(ctx, f"bare DRF insert, {connections} conn", bare, None)
            _row(ctx, f"floor: bare + {label} ECDH derive, {connections} conn", floor, bare.rate)
            _row(
                ctx,
                f"work floor: + ES256, A256GCM, 3 rows 1 commit, {connections} conn",
                work,
                bare.rate,
            )
            _row(ctx, f"ingest {label}, {connections} conn", ingest, bare.rate)
            ctx.row(f"  ingest ÷ floor, {connections} conn", "", f"{ingest.rate / floor.rate:.2f}")
            ctx.row(
                f"  work floor ÷ floor (the most ingest ÷ floor can be), {connections} conn",
                "",
                f"{work.rate / floor.rate:.2f}",
            )
            ctx.row(
                f"  ingest ÷ work floor, {connections} conn", "", f"{ingest.rate / work.rate:.2f}"
            )
            ctx.row(
                f"  ingest p99 ÷ bare p99, {connections} conn",
                "",
                f"{ingest.p99_ms / bare.p99_ms:.2f}",
            )


@bench("transport.ingest_http")
def ingest_http_bench(ctx: BenchContext) -> None:
    count = min(ctx.cards, 1000)
    ctx.row("path (gunicorn, plain HTTP)", "req/s", "× baseline", "p50 ms", "p99 ms", "2xx")
    with tempfile.TemporaryDirectory() as tmp:
        keyring = Path(tmp) / "keyring.json"
        with override_settings(
            KEYS_BACKEND="vault.keys.local.LocalKeyService", LOCAL_KEYRING_PATH=keyring
        ):
            get_key_service.cache_clear()
            env = {"KEYS_BACKEND": "local", "LOCAL_KEYRING_PATH": str(keyring)}
            _http_runs(ctx, env, "local ECDH-ES", count)
            _commits_per_card(ctx, min(count, 200))
            # Working mode: the same path with KMS-rooted working keys used from memory.
            with override_settings(KEYS_MODE="working"):
                get_key_service.cache_clear()
                _http_runs(ctx, {**env, "KEYS_MODE": "working"}, "local working keys", count)
                _commits_per_card(ctx, min(count, 200))
            get_key_service.cache_clear()
    with moto_server() as moto:
        values = bootstrap_keys(moto.endpoint_url)
        with override_settings(**_aws_settings(values, moto.endpoint_url)):
            get_key_service.cache_clear()
            _http_runs(
                ctx, server_settings(values, moto.endpoint_url), "aws/moto_server", min(count, 300)
            )
            _kms_calls_per_card(ctx, min(count, 300))
            # Another environment: the local run's working keys are wrapped under another
            # vault key, as two deployments' would be.
            working = {"KEYS_MODE": "working", "KEYS_ENVIRONMENT": "bench-aws"}
            with override_settings(**working):
                get_key_service.cache_clear()
                _http_runs(
                    ctx,
                    {**server_settings(values, moto.endpoint_url), **working},
                    "aws/moto_server working keys",
                    min(count, 300),
                )
                _kms_calls_per_card(ctx, min(count, 300))
    get_key_service.cache_clear()
    ctx.row(
        f"goal: ingest ≥ {GOAL_RATIO:.2f}× bare insert and ≥ {GOAL_FLOOR_RATIO:.2f}× its floor "
        f"(local, ECDH-ES), p99 ≤ 2× bare at 16 conn, 1 commit/card; ≤ {GOAL_KMS_CALLS:.0f} KMS "
        "calls per checkout in strict mode (Sign + DeriveSharedSecret), "
        f"≤ {GOAL_WORKING_KMS_CALLS} in working mode"
    )


def _commits_per_card(ctx: BenchContext, count: int) -> None:
    """Database commits per ingested card, counted in-process (the first card's data key is
    amortised like the KMS calls below)."""
    merchant = merchant_create(name="Bench commits")
    sealed = _sealed(merchant.id, count)
    data_keys.clear()
    card_ingest(sealed[0])  # the data key for this run
    with count_commits() as commits:
        for token in sealed[1:]:
            card_ingest(token)
    ctx.row(
        f"commits per ingested card ({count - 1} cards)",
        f"{commits.total / (count - 1):.3f}",
        "",
        "",
        "",
        f"explicit={commits.explicit} autocommit={len(commits.autocommit_writes)}",
    )


def _kms_calls_per_card(ctx: BenchContext, count: int) -> None:
    service = get_key_service()
    backend = service.inner if isinstance(service, WorkingKeyService) else service
    assert isinstance(backend, AwsKmsKeyService)
    merchant = merchant_create(name=f"Bench KMS calls {service.mode}").in_mode(False)
    calls: Counter[str] = Counter()

    def count_call(model: Any, **_: Any) -> None:
        calls.update([model.name])

    # Seal and ingest both counted: a complete checkout. The keys of the period and the public
    # keys are made or fetched once per process, as a running server has.
    data_keys.clear()
    card_ingest(_sealed(merchant.id, 1)[0], keys=service)  # and the merchant's subkey, data key
    backend.client.meta.events.register("before-call.kms", count_call)
    sealed = _sealed(merchant.id, count)
    for token in sealed:
        card_ingest(token, keys=service)
    backend.client.meta.events.unregister("before-call.kms", count_call)
    # A data key seals DATA_KEY_MAX_USES cards: its one GenerateDataKey is that many cards' share.
    per_card = sum(v for k, v in calls.items() if k != "GenerateDataKey") / count + calls[
        "GenerateDataKey"
    ] / max(count, settings.DATA_KEY_MAX_USES)
    ctx.row(
        f"KMS calls per checkout, seal + ingest ({service.mode}, moto, {count})",
        f"{per_card:.4f}",
        "",
        "",
        "",
        str(dict(calls)),
    )
