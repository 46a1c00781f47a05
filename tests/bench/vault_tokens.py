"""``token_create`` throughput, KMS calls per card and stored bytes per card, on the local
backend, moto in-process and moto_server over HTTP, against a same-run baseline that writes
the same two rows per card with no cryptography and no KMS."""

from __future__ import annotations

import os
import random
import secrets
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection
from django.test import override_settings
from django.utils import timezone

from tests.bench.registry import BenchContext, bench, timed
from tests.support.kms import (
    REGION,
    bootstrap_keys,
    moto_server,
    patch_moto_kms,
    use_fake_credentials,
)
from vault.cards import Card, card_validate, luhn_valid
from vault.envelope import data_keys
from vault.keys import KeyService, get_key_service
from vault.keys.aws import AwsKmsKeyService
from vault.merchants import merchant_create
from vault.models import DataKey, EncryptedCard, Merchant, Token
from vault.services import token_create

TARGET_CALLS_PER_CARD = 1.01
TARGET_BYTES_PER_CARD = 200


def _cards(count: int) -> list[Card]:
    """Distinct Luhn-valid Visa numbers (generated here, under tests/, never elsewhere)."""
    rng = random.Random(20260101)
    cards = []
    for _ in range(count):
        body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
        number = body + next(d for d in "0123456789" if luhn_valid(body + d))
        cards.append(card_validate(number=number, exp_month=12, exp_year=2030, cvc="123"))
    return cards


def _count_calls(service: KeyService) -> Counter[str]:
    calls: Counter[str] = Counter()
    if isinstance(service, AwsKmsKeyService):
        service.client.meta.events.register(
            "before-call.kms", lambda model, **_: calls.update([model.name])
        )
        return calls
    for method in ("generate_data_key", "decrypt_data_key", "mac", "sign_es256"):
        original = getattr(service, method)

        def counted(*args: Any, _original: Any = original, _name: str = method, **kw: Any) -> Any:
            calls.update([_name])
            return _original(*args, **kw)

        setattr(service, method, counted)
    return calls


def _stored_bytes(tokens: list[Token]) -> float:
    """Bytes per card beyond the token's metadata: its ciphertext row (id, FK, scheme, nonce,
    ciphertext) plus its share of the data-key rows it used."""
    ids = [t.card_data_id for t in tokens if t.card_data_id is not None]
    rows = list(EncryptedCard.objects.filter(pk__in=ids))
    card_bytes = sum(
        8 + len(r.data_key_id) + 2 + len(bytes(r.nonce)) + len(bytes(r.ciphertext)) for r in rows
    )
    keys = DataKey.objects.filter(pk__in={r.data_key_id for r in rows})
    key_bytes = sum(
        len(k.id) + len(bytes(k.wrapped)) + len(k.kms_key_id) + len(k.kms_key_version) + 16
        for k in keys
    )
    return (card_bytes + key_bytes) / len(rows)


def _baseline(merchant: Merchant, cards: list[Card]) -> float:
    """Cards/s for the same two inserts per card with random bytes instead of cryptography."""
    data_key = DataKey.objects.create(
        wrapped=secrets.token_bytes(184), kms_key_id="baseline", wrapped_at=timezone.now()
    )
    with timed() as t:
        for card in cards:
            row = EncryptedCard.objects.create(
                data_key=data_key, nonce=secrets.token_bytes(12), ciphertext=secrets.token_bytes(37)
            )
            Token.objects.create(
                merchant=merchant,
                livemode=False,
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                fingerprint=secrets.token_urlsafe(32),
                card_data=row,
                expires_at=timezone.now(),
            )
    return len(cards) / t.seconds


@contextmanager
def _local() -> Iterator[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        yield {
            "KEYS_BACKEND": "vault.keys.local.LocalKeyService",
            "LOCAL_KEYRING_PATH": Path(tmp) / "keyring.json",
        }


def _aws_settings(values: dict[str, str], endpoint_url: str | None) -> dict[str, Any]:
    return {
        "KEYS_BACKEND": "vault.keys.aws.AwsKmsKeyService",
        "KMS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint_url or "",
        **values,
    }


@contextmanager
def _moto() -> Iterator[dict[str, Any]]:
    from moto import mock_aws

    patch_moto_kms()
    use_fake_credentials()
    with mock_aws():
        yield _aws_settings(bootstrap_keys(), None)


@contextmanager
def _moto_server() -> Iterator[dict[str, Any]]:
    with moto_server() as server:
        yield _aws_settings(bootstrap_keys(server.endpoint_url), server.endpoint_url)


BACKENDS: list[tuple[str, Callable[[], Any]]] = [
    ("local", _local),
    ("aws (moto in-process)", _moto),
    ("aws (moto_server, HTTP)", _moto_server),
]


@bench("vault.token_create")
def token_create_bench(ctx: BenchContext) -> None:
    cards = _cards(ctx.cards)
    merchant = merchant_create(name="Bench").in_mode(False)
    baseline = _baseline(merchant, cards)
    ctx.row("path", "cards/s", "× baseline", "KMS calls/card", "bytes/card")
    ctx.row("baseline: 2 inserts, no crypto", f"{baseline:,.0f}", "1.00", "-", "-")
    for label, backend in BACKENDS:
        with backend() as overrides, override_settings(**overrides):
            get_key_service.cache_clear()
            data_keys.clear()
            service = get_key_service()
            service.health_check()
            calls = _count_calls(service)
            with timed() as t:
                tokens = [token_create(merchant=merchant, card=c, actor="bench") for c in cards]
            rate = len(cards) / t.seconds
            per_card = sum(v for k, v in calls.items() if k != "DescribeKey") / len(cards)
            ctx.row(
                f"token_create, {label}",
                f"{rate:,.0f}",
                f"{rate / baseline:.2f}",
                f"{per_card:.4f}",
                f"{_stored_bytes(tokens):.0f}",
            )
            ctx.lines.append(f"  calls: {dict(calls)}")
            print(f"  KMS operations: {dict(calls)}")  # noqa: T201
        get_key_service.cache_clear()
        data_keys.clear()
    print(  # noqa: T201
        f"targets: KMS calls/card ≤ {TARGET_CALLS_PER_CARD} (one MAC per card, data keys cached), "
        f"stored bytes/card ≤ {TARGET_BYTES_PER_CARD} beyond metadata; "
        f"DB: {connection.vendor}, pid {os.getpid()}"
    )
