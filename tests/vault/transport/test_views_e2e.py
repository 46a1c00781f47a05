"""The whole card path over real HTTP: gunicorn with TLS, and for the aws backend, KMS over
HTTP on moto_server, in both key modes. Sealing happens in the test process, ingest in the
server's workers (in working mode they find the keys the test process made in the shared
database: the signing key through its certificate, the JWE key unwrapped by KMS)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from checkout.sessions.transport import card_encrypt, card_seal
from tests.support.kms import server_settings
from tests.support.servers import RunningServer, gunicorn, tls_context
from tests.vault.transport.conftest import BOTH_BACKENDS, BOTH_MODES
from vault.keys import KeyService
from vault.models import Merchant, Token

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), BOTH_BACKENDS, BOTH_MODES]


def post_jwt(server: RunningServer, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{server.url}/vault/v1/cards",
        data=token.encode(),
        method="POST",
        headers={"Content-Type": "application/jwt"},
    )
    assert server.cafile is not None
    try:
        with urllib.request.urlopen(request, timeout=20, context=tls_context(server.cafile)) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def server_env(keys_backend: str, request: pytest.FixtureRequest, settings: Any) -> dict[str, str]:
    mode = {"KEYS_MODE": settings.KEYS_MODE}
    if keys_backend == "local":
        return {
            **mode,
            "KEYS_BACKEND": "local",
            "LOCAL_KEYRING_PATH": str(settings.LOCAL_KEYRING_PATH),
        }
    account = request.getfixturevalue("moto_http_account")
    assert account.endpoint_url
    return {**mode, **server_settings(account.values, account.endpoint_url)}


def test_sealed_cards_become_tokens_over_https(
    keys: KeyService,
    keys_backend: str,
    merchant: Merchant,
    card: dict[str, Any],
    tls_cert: tuple[Path, Path],
    request: pytest.FixtureRequest,
    settings: Any,
) -> None:
    sealed = [
        card_seal(
            card_encrypt({**card, "number": number}, session_id=f"cs_{i}", nonce="n", keys=keys),
            session_id=f"cs_{i}",
            nonce="n",
            merchant_id=merchant.id,
            keys=keys,
        )
        for i, number in enumerate(["4242424242424242", "5555555555554444"])
    ]

    with gunicorn(cert=tls_cert, env=server_env(keys_backend, request, settings)) as server:
        first = post_jwt(server, sealed[0])
        second = post_jwt(server, sealed[1])
        replay = post_jwt(server, sealed[0])
        _, _, jwks = server.get("/.well-known/jwks.json")

    assert first[0] == 201 and first[1]["last4"] == "4242" and first[1]["brand"] == "visa"
    assert second[0] == 201 and second[1]["brand"] == "mastercard"
    assert replay == (409, replay[1]) and replay[1]["code"] == "token_replayed"
    assert Token.objects.filter(merchant=merchant).count() == 2
    published = {k["kid"] for k in json.loads(jwks)["keys"]}
    assert {k.kid for k in keys.public_keys()} <= published
