"""``manage.py rekey_fingerprints`` moves a saved card's copy of the fingerprint with its token,
so the same card saved again afterwards (under a token of the new version) is still one card."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.management import call_command

from checkout.customers.models import CustomerCard
from checkout.customers.services import customer_card_attach, customer_create
from tests.factories import TokenFactory
from vault.fingerprints import fingerprint_v1
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db

NUMBER = "4242424242424242"  # TokenFactory's card


def _made_before_subkeys(merchant: Merchant) -> Token:
    """A token as tokens were before per-merchant subkeys: a version 1 fingerprint."""
    token: Token = TokenFactory.create(merchant=merchant)
    v1 = fingerprint_v1(merchant_id=merchant.id, number=NUMBER)
    Token.objects.filter(pk=token.pk).update(fingerprint=v1, fingerprint_version=1)
    token.refresh_from_db()
    return token


def _rekey() -> str:
    out = io.StringIO()
    call_command("rekey_fingerprints", stdout=out)
    return out.getvalue()


def test_a_saved_cards_fingerprint_is_rekeyed_with_its_token_and_still_deduplicates(
    merchant: Merchant,
) -> None:
    customer = customer_create(merchant=merchant, actor="test")
    old = _made_before_subkeys(merchant)
    customer_card_attach(merchant=merchant, customer_id=customer.pk, token_id=old.id, actor="t")
    assert CustomerCard.objects.get(token=old).fingerprint == old.fingerprint  # version 1

    printed = _rekey()

    old.refresh_from_db()
    assert "Re-keyed 1 fingerprints." in printed and old.fingerprint_version == 2
    assert CustomerCard.objects.get(token=old).fingerprint == old.fingerprint  # version 2
    # the same card entered again makes a version 2 token: it is the card saved before
    again = TokenFactory.create(merchant=merchant)
    assert again.fingerprint == old.fingerprint and again.id != old.id
    attached = customer_card_attach(
        merchant=merchant, customer_id=customer.pk, token_id=again.id, actor="t"
    )
    assert (attached.created, attached.card.token_id) == (False, old.id)
    assert list(CustomerCard.objects.values_list("token_id", flat=True)) == [old.id]


def test_a_card_saved_once_per_version_before_the_rekey_keeps_both_and_is_reported(
    merchant: Merchant, caplog: pytest.LogCaptureFixture
) -> None:
    customer = customer_create(merchant=merchant, actor="test")
    old = _made_before_subkeys(merchant)
    new = TokenFactory.create(merchant=merchant)  # version 2: it could not match the old copy
    for token in (old, new):
        customer_card_attach(
            merchant=merchant, customer_id=customer.pk, token_id=token.id, actor="t"
        )
    stale = CustomerCard.objects.get(token=old).fingerprint
    caplog.set_level(logging.WARNING)

    printed = _rekey()

    old.refresh_from_db()
    assert "Re-keyed 1 fingerprints." in printed and old.fingerprint == new.fingerprint
    copies = dict(CustomerCard.objects.values_list("token_id", "fingerprint"))
    assert copies == {old.id: stale, new.id: new.fingerprint}  # no constraint broken
    (record,) = [r for r in caplog.records if r.getMessage() == "customer_card_saved_twice"]
    assert (record.customer, record.token, record.twin) == (customer.pk, old.id, new.id)  # type: ignore[attr-defined]
    # saving the card again still finds one of the customer's copies
    again = TokenFactory.create(merchant=merchant)
    attached = customer_card_attach(
        merchant=merchant, customer_id=customer.pk, token_id=again.id, actor="t"
    )
    assert (attached.created, attached.card.token_id) == (False, new.id)


def test_a_token_saved_to_no_customer_is_rekeyed_alone(merchant: Merchant) -> None:
    loose = _made_before_subkeys(merchant)

    assert "Re-keyed 1 fingerprints." in _rekey()

    loose.refresh_from_db()
    assert loose.fingerprint_version == 2 and not CustomerCard.objects.exists()
