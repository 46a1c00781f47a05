"""``row_insert`` writes exactly the row ``save(force_insert=True)`` would: every column, the
database's auto primary key, ``auto_now_add`` times, binary values; the same errors; and a
model with save-signal receivers is saved by ``save()`` so that they run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.db.models.functions import Now
from django.db.models.signals import post_save, pre_save
from django.forms.models import model_to_dict

from payments_site.kernel.rows import row_insert
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
        token = Token(
            merchant=merchant,
            livemode=False,
            brand="visa",
            last4="4242",
            exp_month=12,
            exp_year=2030,
            fingerprint="f" * 64,
            fingerprint_version=2,
            card_data=card,
            expires_at=datetime(2031, 1, 1, tzinfo=UTC),
        )
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
