"""Commits per payment request, counted on the connection (``tests.support.commits``): a
charge commits its intent before the processor is called and its outcome after — the
idempotency record, the card's reveal audit, the webhook event and the stored answer ride in
those two. The sandbox processor's own ledger commit is the processor's and counted apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from checkout.payments.idempotency.models import IdempotencyKey
from checkout.payments.models import Charge, Refund
from checkout.webhooks.models import Event
from monitoring.audit.models import AuditEvent
from tests.checkout.conftest import DECLINES
from tests.factories import TokenFactory
from tests.support.commits import Commits, count_commits
from vault.models import Merchant, Token

# Real commits; the inline sealer (no broker) seals once per interval per process, a batch
# of many requests' events: kept out of the per-request count here, measured by the bench.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_sealer_batched"),
]


@pytest.fixture
def _sealer_batched() -> Any:
    with override_settings(AUDIT_SEAL_INTERVAL_SECONDS=60):
        yield


def _charge(client: APIClient, token: Token, key: str) -> Any:
    return client.post(
        "/api/v1/charges",
        {"token": token.id, "amount": 700, "currency": "EUR"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def _counted(call: Callable[[], Any]) -> tuple[Any, Commits]:
    with count_commits() as commits:
        response = call()
    return response, commits


@pytest.fixture
def warm(api_client: APIClient, token: Token) -> APIClient:
    """One charge first: the API key's ``last_used_at`` is written at most once a minute and
    the sealer's interval starts, neither part of a charge."""
    assert _charge(api_client, token, "warm-up").status_code == 201
    return api_client


def test_a_charge_commits_twice_its_intent_and_its_outcome(warm: APIClient, token: Token) -> None:
    events, audits = Event.objects.count(), AuditEvent.objects.count()

    response, commits = _counted(lambda: _charge(warm, token, "k-1"))

    assert response.status_code == 201 and response.json()["status"] == "succeeded"
    assert (commits.explicit, commits.autocommit_writes) == (2, [])
    assert commits.processor == 1  # the sandbox's ledger entry, the processor's own books
    # ... and everything rode in them: the record with its answer, the event, the reveal.
    record = IdempotencyKey.objects.get(key="k-1")
    assert (record.status, record.effect, record.response_status) == (
        "completed",
        response.json()["id"],
        201,
    )
    assert record.response_body == response.json()
    assert Event.objects.count() == events + 1
    assert AuditEvent.objects.filter(action="token.reveal").count() == 2
    assert AuditEvent.objects.count() == audits + 1


def test_a_decline_commits_twice(warm: APIClient, merchant: Merchant) -> None:
    declined = TokenFactory.create(merchant=merchant, number=DECLINES["card_declined"])

    response, commits = _counted(lambda: _charge(warm, declined, "k-declined"))

    assert response.json()["status"] == "failed"
    assert commits.total == 2


def test_a_replay_commits_nothing(warm: APIClient, token: Token) -> None:
    first = _charge(warm, token, "k-replay")

    replay, commits = _counted(lambda: _charge(warm, token, "k-replay"))

    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert (commits.total, commits.processor) == (0, 0)
    assert Charge.objects.filter(idempotency_key="k-replay").count() == 1


def test_a_lost_answer_commits_the_intent_and_the_pending_answer(
    warm: APIClient, token: Token, processor_fault: Callable[[str], None]
) -> None:
    processor_fault("timeout_after")

    response, commits = _counted(lambda: _charge(warm, token, "k-lost"))

    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert commits.total == 2


def test_a_refused_request_commits_its_answer_once(warm: APIClient) -> None:
    response, commits = _counted(
        lambda: warm.post(
            "/api/v1/charges",
            {"token": "tok_missing", "amount": 700, "currency": "EUR"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k-refused",
        )
    )

    assert response.status_code == 422
    assert commits.total == 1
    assert IdempotencyKey.objects.get(key="k-refused").response_status == 422


def test_a_refund_commits_twice(warm: APIClient, token: Token) -> None:
    charge_id = _charge(warm, token, "k-paid").json()["id"]

    response, commits = _counted(
        lambda: warm.post(
            f"/api/v1/charges/{charge_id}/refunds",
            {"amount": 200},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k-refund",
        )
    )

    assert response.status_code == 201 and response.json()["status"] == "succeeded"
    assert (commits.total, commits.processor) == (2, 1)
    assert Refund.objects.get().status == "succeeded"
    record = IdempotencyKey.objects.get(key="k-refund")
    assert record.response_body == response.json()
