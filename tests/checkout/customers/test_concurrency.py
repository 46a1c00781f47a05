"""Concurrent saves on PostgreSQL: the same card saved at once under different tokens is one
card, and one token saved at once to two customers belongs to one of them."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections

from checkout.customers.errors import CustomerCardRefused
from checkout.customers.models import CustomerCard
from checkout.customers.services import customer_card_attach, customer_create
from tests.factories import TokenFactory
from vault.models import Merchant

pytestmark = pytest.mark.django_db(transaction=True)
WORKERS = 8


def _at_once(work: Callable[[int], object]) -> list[object]:
    """``work(i)`` in WORKERS threads released together; each answer or the error it raised."""
    barrier = threading.Barrier(WORKERS)
    answers: list[object] = [None] * WORKERS

    def run(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = work(index)
        except Exception as exc:  # the refusal is the answer under test
            answers[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent writers: PostgreSQL only")


def test_one_card_saved_at_once_under_many_tokens_is_one_card(merchant: Merchant) -> None:
    customer = customer_create(merchant=merchant, actor="test")
    tokens = [TokenFactory.create(merchant=merchant) for _ in range(WORKERS)]

    answers = _at_once(
        lambda i: customer_card_attach(
            merchant=merchant, customer_id=customer.pk, token_id=tokens[i].id, actor="test"
        )
    )

    assert not [a for a in answers if isinstance(a, Exception)]
    (card,) = CustomerCard.objects.filter(customer=customer)
    assert card.is_default
    assert {a.card.token_id for a in answers} == {card.token_id}  # type: ignore[attr-defined]
    assert sum(a.created for a in answers) == 1  # type: ignore[attr-defined]


def test_one_token_saved_at_once_to_many_customers_belongs_to_one(merchant: Merchant) -> None:
    customers = [customer_create(merchant=merchant, actor="test") for _ in range(WORKERS)]
    token = TokenFactory.create(merchant=merchant)

    answers = _at_once(
        lambda i: customer_card_attach(
            merchant=merchant, customer_id=customers[i].pk, token_id=token.id, actor="test"
        )
    )

    refused = [a for a in answers if isinstance(a, CustomerCardRefused)]
    assert len(refused) == WORKERS - 1
    assert {r.code for r in refused} == {"token_attached_elsewhere"}
    assert CustomerCard.objects.filter(token=token).count() == 1
