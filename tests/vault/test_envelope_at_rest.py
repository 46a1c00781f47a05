"""No plaintext card data at rest: no model can hold one, and a real database dump after every
test card has been tokenised, revealed and revoked contains none."""

from __future__ import annotations

import logging
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection, models
from django.test.utils import isolate_apps

from tests.cards import load_cards
from tests.support import servers
from vault.cards import card_validate
from vault.keys import KeyService
from vault.models import Merchant
from vault.services import token_create, token_reveal, token_revoke

# Words that, in a field name, mean "this column holds card data".
FORBIDDEN_WORDS = {"pan", "number", "cvc", "cvv", "cvv2", "cvc2", "cvn", "csc", "track", "pin"}
# Fields allowed to mention a card, and why.
ALLOWED = {
    ("vault", "token", "card_data"): "reference to the encrypted row, not card data",
    ("vault", "token", "last4"): "the last four digits, which PCI DSS allows in clear",
    ("monitoring", "auditseal", "number"): "the seal's position in the chain (an integer)",
}
# Binary columns are opaque to review, so each must be listed: ciphertext or wrapped keys only.
BINARY_ALLOWED = {
    ("vault", "encryptedcard", "nonce"),
    ("vault", "encryptedcard", "ciphertext"),
    ("vault", "datakey", "wrapped"),
    # working keys: the private half as a KMS-wrapped data key; the certificate (public key,
    # window, use, environment) and its KMS signature are public
    ("vault", "workingkey", "wrapped_private"),
    ("vault", "workingkey", "certificate"),
    ("vault", "workingkey", "certificate_signature"),
    # webhooks: signing secrets, AES-GCM under a vault data key
    ("checkout", "webhooksecret", "nonce"),
    ("checkout", "webhooksecret", "ciphertext"),
}


def risky_fields(model_list: list[type[models.Model]]) -> list[str]:
    """Fields that could hold a plaintext PAN or CVC."""
    found = []
    for model in model_list:
        for field in model._meta.get_fields():
            if not getattr(field, "concrete", False):
                continue
            key = (model._meta.app_label, model._meta.model_name, field.name)
            words = set(re.split(r"[^a-z0-9]+", field.name.lower()))
            label = f"{model._meta.label}.{field.name}"
            if key in ALLOWED:
                continue
            if (
                words & FORBIDDEN_WORDS
                or "card" in words
                or (isinstance(field, models.BinaryField) and key not in BINARY_ALLOWED)
            ):
                found.append(label)
    return found


def test_no_model_in_the_project_has_a_field_for_card_data() -> None:
    assert risky_fields(list(apps.get_models())) == []


@isolate_apps("vault")
def test_the_field_check_catches_card_fields() -> None:
    class Leaky(models.Model):
        card_number = models.CharField(max_length=19)
        cvv = models.CharField(max_length=4)
        blob = models.BinaryField()
        note = models.CharField(max_length=20)

        class Meta:
            app_label = "vault"

        def __str__(self) -> str:
            return "leaky"

    assert risky_fields([Leaky]) == [
        "vault.Leaky.card_number",
        "vault.Leaky.cvv",
        "vault.Leaky.blob",
    ]


def dump_database() -> bytes:
    """A real dump of the test database: ``pg_dump`` for PostgreSQL, SQLite's own dump."""
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        with sqlite3.connect(Path(str(settings["NAME"]))) as db:
            return "\n".join(db.iterdump()).encode("utf-8")
    result = subprocess.run(
        ["pg_dump", "--no-owner", "--dbname", servers.test_database_url()],
        capture_output=True,
        check=True,
    )
    return result.stdout


def _forms(number: str) -> list[bytes]:
    """The PAN as text, spaced, and as the hex that dumps use for binary columns."""
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return [number.encode(), spaced.encode(), number.encode().hex().encode()]


@pytest.mark.django_db(transaction=True)
def test_database_dump_holds_no_pan_after_every_test_card(
    key_service: KeyService, merchant: Merchant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cards = load_cards()
    numbers = [c["number"] for c in cards["approve"] + cards["decline"]]

    # given every public test card tokenised, revealed, and half of them revoked
    for index, number in enumerate(numbers):
        card = card_validate(
            number=number,
            exp_month=12,
            exp_year=2030,
            cvc="1234" if number.startswith("3") and len(number) == 15 else "123",
            name=f"Card Holder {number}",  # even a PAN typed into the name field
        )
        token = token_create(merchant=merchant, card=card, actor="test")
        assert token_reveal(token=token, purpose="test", actor="test").number == number
        if index % 2:
            token_revoke(token=token, actor="test", reason="test")

    # when the database is dumped
    dump = dump_database()

    # then no form of any PAN appears in it, nor in any log record
    assert b"tok_" in dump and len(dump) > 10_000
    logs = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records).encode()
    for number in numbers:
        for form in _forms(number):
            assert form not in dump, f"PAN ending {number[-4:]} found in the database dump"
            assert form not in logs, f"PAN ending {number[-4:]} found in the logs"
