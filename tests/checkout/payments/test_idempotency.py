"""Idempotency-Key semantics on POST /api/v1/charges (the mechanism is generic)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from checkout.payments.idempotency.api import request_fingerprint
from checkout.payments.idempotency.models import IdempotencyKey
from checkout.payments.idempotency.services import idempotency_begin
from checkout.payments.models import Charge
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.payments.services import charge_create
from tests.factories import TokenFactory
from vault.merchants import api_key_create
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db

URL = "/api/v1/charges"


def post(client: APIClient, body: dict[str, object], key: str):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_same_body_replays_the_first_answer(api_client: APIClient, token: Token) -> None:
    body = {"token": token.id, "amount": 1000, "currency": "EUR"}

    first = post(api_client, body, "order-1")
    second = post(api_client, {"currency": "EUR", "amount": 1000, "token": token.id}, "order-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Charge.objects.count() == 1
    assert SandboxLedgerEntry.objects.count() == 1


def test_errors_are_replayed_too(api_client: APIClient, token: Token) -> None:
    body = {"token": token.id, "amount": 0, "currency": "EUR"}

    first = post(api_client, body, "bad-1")
    second = post(api_client, body, "bad-1")

    assert first.status_code == second.status_code == 400
    assert second.json() == first.json()
    assert second["Content-Type"] == "application/problem+json"
    assert second["Idempotent-Replayed"] == "true"


def test_same_key_different_body_is_422(api_client: APIClient, token: Token) -> None:
    post(api_client, {"token": token.id, "amount": 1000, "currency": "EUR"}, "order-2")

    response = post(api_client, {"token": token.id, "amount": 1001, "currency": "EUR"}, "order-2")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Charge.objects.count() == 1


def test_key_still_running_is_409(api_client: APIClient, merchant: Merchant, token: Token) -> None:
    body = b'{"token": "%s", "amount": 1000, "currency": "EUR"}' % token.id.encode()
    idempotency_begin(
        merchant=merchant,
        key="order-3",
        fingerprint=request_fingerprint(method="POST", path=URL, body=body),
        method="POST",
        path=URL,
    )

    response = api_client.post(
        URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="order-3"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_use"
    assert response["Retry-After"] == "1"
    assert Charge.objects.count() == 0


def test_a_dead_holder_is_taken_over_after_the_lock_expires(
    api_client: APIClient, merchant: Merchant, token: Token
) -> None:
    body = b'{"token": "%s", "amount": 1000, "currency": "EUR"}' % token.id.encode()
    record = idempotency_begin(
        merchant=merchant,
        key="order-4",
        fingerprint=request_fingerprint(method="POST", path=URL, body=body),
        method="POST",
        path=URL,
    )
    assert isinstance(record, IdempotencyKey)
    IdempotencyKey.objects.filter(pk=record.pk).update(
        locked_at=timezone.now() - timedelta(minutes=5)
    )

    response = api_client.post(
        URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="order-4"
    )

    assert response.status_code == 201
    assert IdempotencyKey.objects.get(pk=record.pk).status == "completed"


def test_a_taken_over_key_never_creates_a_second_charge(merchant: Merchant, token: Token) -> None:
    first = charge_create(
        merchant=merchant, token_id=token.id, amount=500, currency="EUR", idempotency_key="k"
    )
    again = charge_create(
        merchant=merchant, token_id=token.id, amount=500, currency="EUR", idempotency_key="k"
    )

    assert again.pk == first.pk
    assert Charge.objects.count() == 1


def test_keys_are_scoped_per_merchant(
    api_client: APIClient, merchant: Merchant, other_merchant: Merchant, token: Token
) -> None:

    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(merchant=other_merchant).secret}")
    theirs = TokenFactory.create(merchant=other_merchant)

    mine = post(api_client, {"token": token.id, "amount": 100, "currency": "EUR"}, "shared")
    their = post(other, {"token": theirs.id, "amount": 100, "currency": "EUR"}, "shared")

    assert mine.status_code == their.status_code == 201
    assert mine.json()["id"] != their.json()["id"]


def test_a_server_error_is_not_stored_so_the_retry_runs(
    api_client: APIClient, token: Token, monkeypatch: pytest.MonkeyPatch
) -> None:
    import checkout.payments.api as charges_api

    def boom(**_: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(charges_api, "charge_create", boom)
    failed = post(api_client, {"token": token.id, "amount": 100, "currency": "EUR"}, "retry-me")
    monkeypatch.undo()
    retried = post(api_client, {"token": token.id, "amount": 100, "currency": "EUR"}, "retry-me")

    assert failed.status_code == 500
    assert "database went away" not in failed.content.decode()
    assert retried.status_code == 201
    assert Charge.objects.count() == 1


@pytest.mark.parametrize("status", [429, 500])
def test_a_retry_that_fails_without_storing_still_replays_the_first_answer(
    api_client: APIClient, token: Token, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    """A first try claims its key without reading it: a retry of a finished request whose
    handler now fails before the claim (the card cooling off, an outage) must still get the
    first answer, not the failure."""
    import checkout.payments.api as charges_api
    from monitoring.security.cooloff import Cooloff, SourceCoolingOff
    from monitoring.security.models import SecurityAlert

    body = {"token": token.id, "amount": 100, "currency": "EUR"}
    first = post(api_client, body, "done-once")

    def refuse(**_: object) -> None:
        if status == 429:
            raise SourceCoolingOff(Cooloff(SecurityAlert.Scope.FINGERPRINT, "fp", retry_after=60))
        raise RuntimeError("database went away")

    monkeypatch.setattr(charges_api, "charge_create", refuse)
    again = post(api_client, body, "done-once")

    assert (again.status_code, again.json()) == (201, first.json())
    assert again["Idempotent-Replayed"] == "true"
    assert Charge.objects.count() == 1
    monkeypatch.undo()  # and a new key is not answered from the old one
    assert post(api_client, body, "a-new-one").json()["id"] != first.json()["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_invalid_keys_are_400(api_client: APIClient, token: Token, key: str) -> None:
    response = api_client.post(
        URL,
        {"token": token.id, "amount": 100, "currency": "EUR"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert Charge.objects.count() == 0
    assert IdempotencyKey.objects.count() == 0


def test_a_255_character_key_is_accepted(api_client: APIClient, token: Token) -> None:
    response = post(api_client, {"token": token.id, "amount": 100, "currency": "EUR"}, "k" * 255)
    assert response.status_code == 201


def test_purge_keeps_keys_for_24_hours(api_client: APIClient, token: Token, settings) -> None:
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 1  # asking for less than a day still keeps a day
    post(api_client, {"token": token.id, "amount": 100, "currency": "EUR"}, "old")
    post(api_client, {"token": token.id, "amount": 200, "currency": "EUR"}, "young")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyKey.objects.filter(key="young").update(
        created_at=timezone.now() - timedelta(hours=23)
    )

    call_command("purge_idempotency_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["young"]


def test_the_stored_fingerprint_is_keyed_not_a_plain_hash() -> None:
    import hashlib

    body = b'{"a": 1}'
    fingerprint = request_fingerprint(method="POST", path="/x", body=body)
    assert fingerprint != hashlib.sha256(b"POST\n/x\n" + b'{"a":1}').hexdigest()
    assert fingerprint == request_fingerprint(method="POST", path="/x", body=b'{ "a" : 1 }')


@pytest.mark.parametrize("key", [None, "big-1"])
def test_an_oversized_body_is_413_not_500(api_client: APIClient, key: str | None) -> None:
    body = '{"token": "' + "x" * 3_000_000 + '"}'
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}

    response = api_client.post(URL, body, content_type="application/json", **headers)

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert IdempotencyKey.objects.count() == 0
    assert Charge.objects.count() == 0


@pytest.mark.parametrize("key", ["order-4000056655665556", "4242-4242-4242-4242"])
def test_a_key_holding_a_card_number_works_but_is_stored_only_hashed(
    api_client: APIClient, token: Token, key: str
) -> None:
    from django.db import connection

    body = {"token": token.id, "amount": 100, "currency": "EUR"}
    first = post(api_client, body, key)
    again = post(api_client, body, key)

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Charge.objects.count() == 1
    digits = "".join(c for c in key if c.isdigit())
    with connection.cursor() as cursor:
        for model in (Charge, IdempotencyKey):
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608
            assert digits not in repr(cursor.fetchall()).replace("-", "")
    assert IdempotencyKey.objects.get().key.startswith("hmac:")


def test_random_hex_keys_are_all_accepted(api_client: APIClient, token: Token) -> None:
    import secrets

    from checkout.payments.idempotency.api import idempotency_key_validate
    from checkout.payments.idempotency.services import idempotency_key_at_rest

    keys = [secrets.token_hex(16) for _ in range(3000)]
    assert all(idempotency_key_validate(k) == k for k in keys)
    stored = {idempotency_key_at_rest(k) for k in keys}
    assert len(stored) == len(keys)  # hashing the rare digit-run keys keeps them distinct


def test_a_key_character_is_accepted_exactly_when_it_is_printable_ascii() -> None:
    from checkout.payments.idempotency.api import InvalidIdempotencyKey, idempotency_key_validate

    for code in range(0x300):
        key = f"order-{chr(code)}-1042"
        if 0x20 <= code <= 0x7E:
            assert idempotency_key_validate(key) == key
        else:
            with pytest.raises(InvalidIdempotencyKey):
                idempotency_key_validate(key)
