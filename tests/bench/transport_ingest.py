"""The card ingest over HTTP on gunicorn (``POST /vault/v1/cards``) next to a bare DRF insert
measured in the same run, at 1 and 16 connections; and KMS calls per ingested card on moto."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import override_settings

from checkout.sessions.transport import card_encrypt, card_seal
from tests.bench.registry import BenchContext, bench
from tests.bench.vault_tokens import _aws_settings, _cards
from tests.support.kms import bootstrap_keys, moto_server, server_settings
from tests.support.load import LoadResult, run_load
from tests.support.servers import gunicorn
from vault.envelope import data_keys
from vault.keys import get_key_service
from vault.keys.aws import AwsKmsKeyService
from vault.merchants import merchant_create
from vault.transport.ingest import card_ingest

GOAL_RATIO = 0.60
GOAL_KMS_CALLS = 2.0
ROUNDS = 5  # bare/ingest alternations per measurement
WORKERS = 2  # gunicorn sync workers, one per core (ARCHITECTURE.md §8)


def _sealed(merchant_id: str, count: int) -> list[bytes]:
    out = []
    for i, card in enumerate(_cards(count)):
        sid = f"cs_bench_{i}"
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
    merchant = merchant_create(name=f"Bench {label}")
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
            runs: dict[str, list[LoadResult]] = {"bare": [], "floor": [], "ingest": []}
            step = max(1, count // ROUNDS)
            for start in range(0, count, step):
                chunk = sealed[start : start + step]
                for name, path in (("bare", "bare-insert"), ("floor", "bare-insert-ecdh")):
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
            bare, floor, ingest = (LoadResult.combine(runs[n]) for n in ("bare", "floor", "ingest"))
            _row(ctx, f"bare DRF insert, {connections} conn", bare, None)
            _row(ctx, f"floor: bare + {label} ECDH derive, {connections} conn", floor, bare.rate)
            _row(ctx, f"ingest {label}, {connections} conn", ingest, bare.rate)
            ctx.row(f"  ingest ÷ floor, {connections} conn", "", f"{ingest.rate / floor.rate:.2f}")


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
    with moto_server() as moto:
        values = bootstrap_keys(moto.endpoint_url)
        with override_settings(**_aws_settings(values, moto.endpoint_url)):
            get_key_service.cache_clear()
            _http_runs(
                ctx, server_settings(values, moto.endpoint_url), "aws/moto_server", min(count, 300)
            )
            _kms_calls_per_card(ctx, min(count, 300))
    get_key_service.cache_clear()
    ctx.row(
        f"goal: ingest ≥ {GOAL_RATIO:.2f}× bare insert (local, ECDH-ES); "
        f"≤ {GOAL_KMS_CALLS:.0f} KMS calls/card (DeriveSharedSecret + fingerprint)"
    )


def _kms_calls_per_card(ctx: BenchContext, count: int) -> None:
    service = get_key_service()
    assert isinstance(service, AwsKmsKeyService)
    merchant = merchant_create(name="Bench KMS calls")
    sealed = _sealed(merchant.id, count)
    data_keys.clear()
    service.public_keys()  # warm the in-process public-key cache, as a running server has
    calls: Counter[str] = Counter()

    def count_call(model: Any, **_: Any) -> None:
        calls.update([model.name])

    service.client.meta.events.register("before-call.kms", count_call)
    for token in sealed:
        card_ingest(token, keys=service)
    service.client.meta.events.unregister("before-call.kms", count_call)
    # A data key seals DATA_KEY_MAX_USES cards: its one GenerateDataKey is that many cards' share.
    per_card = sum(v for k, v in calls.items() if k != "GenerateDataKey") / count + calls[
        "GenerateDataKey"
    ] / max(count, settings.DATA_KEY_MAX_USES)
    ctx.row(
        f"KMS calls per ingested card (moto, {count})",
        f"{per_card:.4f}",
        "",
        "",
        "",
        str(dict(calls)),
    )
