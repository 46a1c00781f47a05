"""Working keys (``KEYS_MODE=working``): wrapped only, unwrapped once per process, rotated per
period, one key per period across processes, published in the JWKS beside the KMS key."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from vault.keys import KeyDecryptionFailed, KeyPurpose, KeyService, get_key_service
from vault.keys.base import DataKeyMaterial, public_key_from_jwk
from vault.keys.jwk import public_jwk
from vault.keys.working import WorkingKeyService
from vault.models import WorkingKey


def _counting(service: KeyService, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the wrapped backend's operations (each is a KMS call on the aws backend)."""
    calls: Counter[str] = Counter()
    for name in ("generate_data_key", "decrypt_data_key", "sign_es256", "ecdh_derive"):
        original = getattr(service, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            calls[_name] += 1
            return _original(*args, **kw)

        monkeypatch.setattr(service, name, counted)
    return calls


@pytest.mark.django_db
def test_the_mode_setting_wraps_the_backend(
    key_service: KeyService, settings: SettingsWrapper
) -> None:
    settings.KEYS_MODE = "working"
    get_key_service.cache_clear()
    try:
        service = get_key_service()
        assert isinstance(service, WorkingKeyService)
        assert service.mode == "working" and service.name == key_service.name
    finally:
        get_key_service.cache_clear()


@pytest.mark.django_db
def test_private_halves_are_stored_only_wrapped_under_the_vault_key(
    key_service: KeyService,
) -> None:
    working = WorkingKeyService(key_service)
    jwe_kid = next(
        k.kid for k in working.public_keys() if k.purpose is KeyPurpose.JWE and k.current
    )
    sign_kid = working.card_signing_kid()

    for kid, use in ((jwe_kid, "card-jwe"), (sign_kid, "card-sign")):
        row = WorkingKey.objects.get(kid=kid)
        assert row.use == use and row.environment == working.environment
        context = working._context(use, int(row.period_start.timestamp()))
        scalar = key_service.decrypt_data_key(
            wrapped=bytes(row.wrapped_private), key_id=row.wrap_key_id, context=context
        )
        # the wrapped form is not the key, and nothing else in the row holds it
        private = WorkingKeyService(key_service)._stored(kid, use).private  # type: ignore[union-attr]
        assert scalar == private.private_numbers().private_value.to_bytes(32, "big")
        assert scalar not in bytes(row.wrapped_private)
        assert "d" not in row.public_jwk
        # the encryption context names the use: the other use's context does not unwrap it
        other = "card-sign" if use == "card-jwe" else "card-jwe"
        with pytest.raises(KeyDecryptionFailed):
            key_service.decrypt_data_key(
                wrapped=bytes(row.wrapped_private),
                key_id=row.wrap_key_id,
                context={**context, "use": other},
            )


@pytest.mark.django_db
def test_another_process_unwraps_each_key_once(
    key_service: KeyService, monkeypatch: pytest.MonkeyPatch, card_keys: Any
) -> None:
    WorkingKeyService(key_service).card_signing_kid()  # made by a first process
    first = WorkingKeyService(key_service)
    jwe_kid = next(k.kid for k in first.public_keys() if k.current and k.purpose is KeyPurpose.JWE)
    calls = _counting(key_service, monkeypatch)
    other = WorkingKeyService(key_service)  # a second process: same rows, empty memory

    for index in range(50):
        kid, _ = other.card_sign(f"message {index}".encode())
        other.card_verify_key(kid)
        other.ecdh_derive(kid=jwe_kid, peer=card_keys.peer)
        other.public_keys()

    assert calls == Counter({"decrypt_data_key": 2})  # one per key, then memory
    assert kid == first.card_signing_kid()


@pytest.mark.django_db
def test_a_new_period_makes_new_keys_and_the_old_stay_accepted(
    key_service: KeyService, card_keys: Any
) -> None:
    now = time.time()
    clock = [now]
    working = WorkingKeyService(key_service, period_seconds=3600, clock=lambda: clock[0])
    old_sign = working.card_signing_kid()
    old_jwe = next(
        k.kid for k in working.public_keys() if k.current and k.purpose is KeyPurpose.JWE
    )

    clock[0] = (now // 3600 + 1) * 3600 + 10  # just into the next period
    working._published = None
    new_sign = working.card_signing_kid()
    published = {k.kid: k for k in working.public_keys() if k.purpose is KeyPurpose.JWE}

    assert new_sign != old_sign
    assert published[old_jwe].current is False
    assert sum(k.current for k in published.values()) == 1
    assert WorkingKey.objects.count() == 4
    working.card_verify_key(old_sign)
    working.ecdh_derive(kid=old_jwe, peer=card_keys.peer)


def test_settings_define_the_period_and_the_environment(settings: SettingsWrapper) -> None:
    assert settings.KEYS_MODE == "strict"  # the default
    assert settings.KEYS_WORKING_PERIOD_SECONDS == 3600
    assert settings.KEYS_ENVIRONMENT == "default"


@pytest.mark.django_db
def test_the_jwks_lists_the_working_key_beside_the_kms_key(
    key_service: KeyService, settings: SettingsWrapper
) -> None:
    settings.KEYS_MODE = "working"
    get_key_service.cache_clear()
    try:
        service = get_key_service()
        strict_jwe = next(
            k.kid for k in key_service.public_keys() if k.purpose is KeyPurpose.JWE and k.current
        )
        body = Client().get("/.well-known/jwks.json").json()
    finally:
        get_key_service.cache_clear()
    encryption = [key for key in body["keys"] if key["use"] == "enc"]
    working_jwe = WorkingKey.objects.get(use="card-jwe")

    assert {key["kid"] for key in encryption} == {strict_jwe, working_jwe.kid}
    assert all(key["alg"] == "ECDH-ES" and "d" not in key for key in encryption)
    # the working signing key is trusted through its certificate, not published
    signing = {key["kid"] for key in body["keys"] if key["use"] == "sig"}
    assert signing and WorkingKey.objects.filter(use="card-sign", kid__in=signing).count() == 0
    assert service.card_signing_kid() not in signing


class _Gate:
    """A backend whose GenerateDataKey waits until ``parties`` callers are inside it: every
    process has looked for this period's key, found none, and goes on to make one."""

    def __init__(self, inner: KeyService, parties: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(parties, timeout=20)

    def generate_data_key(self, *, context: Mapping[str, str]) -> DataKeyMaterial:
        self.barrier.wait()
        return self.inner.generate_data_key(context=context)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.django_db(transaction=True)
def test_processes_rotating_together_make_one_key(key_service: KeyService) -> None:
    gate = _Gate(key_service, 2)
    results: list[str] = []
    errors: list[BaseException] = []

    def process() -> None:
        try:
            service = WorkingKeyService(gate)  # type: ignore[arg-type]
            results.append(service.card_signing_kid())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(results) == 2 and results[0] == results[1]  # both made one, both use the winner's
    assert WorkingKey.objects.filter(use="card-sign").count() == 1


@pytest.fixture
def card_keys() -> Any:
    """A peer point to derive with (any valid P-256 public key)."""

    class Keys:
        peer = ec.generate_private_key(ec.SECP256R1()).public_key()

    return Keys()


def test_public_key_from_jwk_round_trips() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert public_key_from_jwk(public_jwk(key, KeyPurpose.SIGN)) == key
