"""``row_insert`` writes exactly the row ``save(force_insert=True)`` would: every column, the
database's auto primary key, ``auto_now_add`` times, binary values; the same errors; and a
model with save-signal receivers is saved by ``save()`` so that they run. ``row_update`` writes
what ``filter().update()`` writes, and ``PreparedQuery`` reads what the ORM reads, in one
query, leaving to the ORM what it cannot say exactly."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.db.models.functions import Now
from django.db.models.signals import post_save, pre_save
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from payments_site.kernel.rows import PreparedQuery, row_insert, row_update
from vault.merchants import merchant_create
from vault.models import DataKey, EncryptedCard, Token, UsedJti

pytestmark = pytest.mark.django_db


def _stored(obj: Model) -> dict[str, Any]:
    row = type(obj)._default_manager.get(pk=obj.pk)
    return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}


def _data_key() -> DataKey:
    return DataKey.objects.create(
        wrapped=b"\x00wrapped", kms_key_id="k", wrapped_at=datetime.now(UTC)
    )


def test_a_row_reads_back_as_the_one_save_writes() -> None:
    key = _data_key()
    fast = EncryptedCard(data_key=key, nonce=b"\x00" * 12, ciphertext=b"\xff\x00card")
    slow = EncryptedCard(data_key=key, nonce=b"\x00" * 12, ciphertext=b"\xff\x00card")

    row_insert(fast)
    slow.save(force_insert=True)

    assert isinstance(fast.pk, int) and fast.pk == slow.pk - 1  # the database's own sequence
    assert not fast._state.adding and fast._state.db == "default"
    stored = _stored(fast)
    assert bytes(stored.pop("nonce")) == b"\x00" * 12
    assert bytes(stored.pop("ciphertext")) == b"\xff\x00card"
    expected = _stored(slow)
    del expected["nonce"], expected["ciphertext"]
    assert stored == {**expected, "id": fast.pk}


def test_every_column_of_a_wide_row_and_its_auto_now_add_time() -> None:
    merchant = merchant_create(name="Rows").in_mode(False)
    key = _data_key()
    before = datetime.now(UTC)
    tokens = []
    for insert in (row_insert, lambda t: t.save(force_insert=True)):
        card = EncryptedCard(data_key=key, nonce=b"n" * 12, ciphertext=b"c")
        insert(card)
        token = _unsaved_token(merchant, card, fingerprint="f" * 64)
        insert(token)
        tokens.append(token)
    fast, slow = tokens

    assert fast.created_at >= before  # set on the instance, as save() does
    assert _stored(fast)["created_at"] == fast.created_at
    same = {"id", "card_data_id", "created_at"}
    assert {k: v for k, v in _stored(fast).items() if k not in same} == {
        k: v for k, v in _stored(slow).items() if k not in same
    }
    assert model_to_dict(Token.objects.get(pk=fast.pk))["status"] == Token.Status.ACTIVE


def test_a_duplicate_key_raises_integrity_error() -> None:
    expires = datetime.now(UTC) + timedelta(minutes=5)
    row_insert(UsedJti(jti="jti-1", expires_at=expires))

    with pytest.raises(IntegrityError), transaction.atomic():
        row_insert(UsedJti(jti="jti-1", expires_at=expires))

    assert UsedJti.objects.filter(jti="jti-1").count() == 1


def test_a_model_with_save_receivers_is_saved_by_save_so_they_run() -> None:
    seen: list[str] = []

    def before(sender: type[Model], instance: UsedJti, **_: Any) -> None:
        seen.append(f"pre {instance.jti}")

    def after(sender: type[Model], instance: UsedJti, created: bool, **_: Any) -> None:
        seen.append(f"post {instance.jti} {created}")

    expires = datetime.now(UTC) + timedelta(minutes=5)
    for signal, receiver in ((pre_save, before), (post_save, after)):
        signal.connect(receiver, sender=UsedJti)
        try:
            row_insert(UsedJti(jti=f"jti-{signal is post_save}", expires_at=expires))
        finally:
            signal.disconnect(receiver, sender=UsedJti)
    row_insert(UsedJti(jti="jti-none", expires_at=expires))

    assert seen == ["pre jti-False", "post jti-True True"]
    assert UsedJti.objects.filter(jti__startswith="jti-").count() == 3


def test_an_expression_value_is_saved_by_save() -> None:
    row = UsedJti(jti="jti-now", expires_at=Now())

    row_insert(row)

    assert UsedJti.objects.get(jti="jti-now").expires_at <= datetime.now(UTC)


# --- row_update ---------------------------------------------------------------------------------


def _idempotency_record(key: str) -> Any:
    from checkout.payments.idempotency.models import IdempotencyKey

    merchant = merchant_create(name=f"Rows {key}")
    now = datetime.now(UTC)
    return IdempotencyKey.objects.create(
        merchant=merchant,
        livemode=False,
        key=key,
        request_fingerprint="f",
        method="POST",
        path="/x",
        locked_at=now,
        created_at=now,
    )


def test_row_update_writes_what_the_orm_update_writes() -> None:
    from checkout.payments.idempotency.models import IdempotencyKey

    fast, slow = _idempotency_record("fast"), _idempotency_record("slow")
    done = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    values = {
        "status": IdempotencyKey.Status.COMPLETED,
        "response_status": 201,
        "response_body": {"id": "ch_1", "nested": [1, "two", None], "ü": "ß"},
        "response_headers": {},
        "completed_at": done,
        "locked_at": None,
    }

    changed = row_update(IdempotencyKey, where={"pk": fast.pk}, values=values)
    IdempotencyKey.objects.filter(pk=slow.pk).update(**values)

    assert changed == 1
    differ = {"id", "merchant_id", "key", "created_at"}  # set by the two creates
    assert {k: v for k, v in _stored(fast).items() if k not in differ} == {
        k: v for k, v in _stored(slow).items() if k not in differ
    }
    assert _stored(fast)["completed_at"] == done


def test_row_update_matches_every_condition_and_counts_the_rows() -> None:
    expires = datetime.now(UTC) + timedelta(minutes=5)
    row_insert(UsedJti(jti="a", expires_at=expires))
    later = expires + timedelta(hours=1)

    assert (
        row_update(UsedJti, where={"jti": "a", "expires_at": later}, values={"expires_at": later})
        == 0
    )
    assert (
        row_update(UsedJti, where={"jti": "a", "expires_at": expires}, values={"expires_at": later})
        == 1
    )
    assert UsedJti.objects.get(jti="a").expires_at == later


def test_row_update_leaves_what_it_cannot_say_exactly_to_the_orm() -> None:
    merchant = merchant_create(name="Rows fallback").in_mode(False)
    kept = _token_row(merchant, last_used_at=None)
    used = _token_row(merchant, last_used_at=datetime.now(UTC))
    # SQLite's Now() keeps milliseconds: compare with the same precision.
    now = datetime.now(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)

    # None matches IS NULL, as filter() does; a lookup and an expression go through the ORM.
    assert row_update(Token, where={"last_used_at": None}, values={"exp_month": 1}) == 1
    assert row_update(Token, where={"pk__in": [kept.pk, used.pk]}, values={"exp_month": 2}) == 2
    assert row_update(Token, where={"pk": used.pk}, values={"last_used_at": Now()}) == 1

    assert Token.objects.get(pk=kept.pk).exp_month == 2
    touched = Token.objects.get(pk=used.pk).last_used_at
    assert touched is not None and touched >= now


def _unsaved_token(merchant: Any, card: EncryptedCard, **fields: Any) -> Token:
    fields.setdefault("fingerprint", secrets.token_hex(32))
    return Token(
        merchant=merchant,
        livemode=False,
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
        fingerprint_version=2,
        card_data=card,
        expires_at=datetime(2031, 1, 1, tzinfo=UTC),
        **fields,
    )


def _token_row(merchant: Any, **fields: Any) -> Token:
    card = EncryptedCard(data_key=_data_key(), nonce=b"n" * 12, ciphertext=b"c")
    row_insert(card)
    token = _unsaved_token(merchant, card, **fields)
    row_insert(token)
    return token


# --- PreparedQuery ------------------------------------------------------------------------------


TOKENS = PreparedQuery(
    Token,
    lambda livemode, *, merchant_id, token_id: Token.objects.filter(
        merchant_id=merchant_id, livemode=livemode, pk=token_id
    ).select_related("card_data__data_key"),
)


def test_a_prepared_read_answers_what_the_orm_answers_with_its_related_rows() -> None:
    merchant = merchant_create(name="Prepared").in_mode(False)
    token = _token_row(merchant, last_used_at=datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC))
    TOKENS.one(False, merchant_id=merchant.pk, token_id=token.pk)  # compiled here

    with CaptureQueriesContext(connection) as queries:
        found = TOKENS.one(False, merchant_id=merchant.pk, token_id=token.pk)
        assert found is not None
        card = found.card_data
        assert card is not None
        key = card.data_key  # loaded with it: no query

    expected = Token.objects.select_related("card_data__data_key").get(pk=token.pk)
    assert len(queries) == 1
    assert _fields(found) == _fields(expected)
    assert expected.card_data is not None
    assert _fields(card) == _fields(expected.card_data)
    assert _fields(key) == _fields(expected.card_data.data_key)
    assert found._state.db == "default" and not found._state.adding


def test_a_prepared_read_is_scoped_by_every_value_and_variant() -> None:
    merchant = merchant_create(name="Prepared scope").in_mode(False)
    other = merchant_create(name="Prepared other")
    token = _token_row(merchant)

    assert TOKENS.one(False, merchant_id=merchant.pk, token_id=token.pk) is not None
    assert TOKENS.one(True, merchant_id=merchant.pk, token_id=token.pk) is None  # other mode
    assert TOKENS.one(False, merchant_id=other.pk, token_id=token.pk) is None
    assert TOKENS.one(False, merchant_id=merchant.pk, token_id="tok_missing") is None
    # a value the SQL would otherwise read as syntax is only ever a bound parameter
    assert TOKENS.one(False, merchant_id="' OR 1=1 --", token_id=token.pk) is None


def test_a_prepared_values_list_and_a_transformed_parameter() -> None:
    merchant = merchant_create(name="Prepared values").in_mode(False)
    a, b = _token_row(merchant), _token_row(merchant)
    fingerprints = PreparedQuery(
        Token,
        lambda *, merchant_id: (
            Token.objects.filter(merchant_id=merchant_id, livemode=False)
            .order_by("pk")
            .values_list("pk", "fingerprint")
        ),
    )
    # iexact rewrites its value (UPPER / LIKE): not exact, so the ORM answers every time
    by_brand = PreparedQuery(
        Token,
        lambda *, brand: Token.objects.filter(brand__iexact=brand, livemode=False).order_by("pk"),
    )

    expected = sorted([(a.pk, a.fingerprint), (b.pk, b.fingerprint)])
    assert fingerprints.all(merchant_id=merchant.pk) == expected
    assert fingerprints.all(merchant_id=merchant.pk) == expected
    assert [t.pk for t in by_brand.all(brand="VISA")] == sorted([a.pk, b.pk])
    assert [t.pk for t in by_brand.all(brand="amex")] == []


def _fields(obj: Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.django_db
def test_a_value_bound_unchanged_is_what_its_field_would_bind() -> None:
    from django.apps import apps

    from payments_site.kernel.rows import _bind_saved, _plain_types

    samples: dict[type, list[Any]] = {
        str: ["", "x", "ch_3xq9ZbL0kq2rT8yWcN4vQa", "é ü 漢"],
        int: [0, 1, 2**40],
        bool: [True, False],
        type(None): [None],
    }
    checked = 0
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            kinds = _plain_types(field, connection)
            for value in [v for kind in kinds for v in samples[kind]]:
                bound = _bind_saved((field,), (kinds,), [value], connection)
                expected = field.get_db_prep_save(value, connection)
                assert bound == [expected] and type(bound[0]) is type(expected), field
                assert field.get_db_prep_value(value, connection) == expected, field
                checked += 1
    assert checked > 150
