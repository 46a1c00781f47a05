"""Refunds never exceed the capture; a lost processor answer is reconciled to one charge."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from checkout.payments.models import Charge, Refund
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.payments.services import charge_create, charge_reconcile, charges_reconcile
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db


def charged(api_client: APIClient, token: Token, amount: int = 1000) -> str:
    response = api_client.post(
        "/api/v1/charges", {"token": token.id, "amount": amount, "currency": "EUR"}, format="json"
    )
    assert response.json()["status"] == "succeeded"
    return str(response.json()["id"])


def refund(api_client: APIClient, charge_id: str, body: dict[str, object], key: str | None = None):
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api_client.post(f"/api/v1/charges/{charge_id}/refunds", body, format="json", **headers)


def test_partial_then_full_refund(api_client: APIClient, token: Token) -> None:
    charge_id = charged(api_client, token)

    partial = refund(api_client, charge_id, {"amount": 300, "reason": "damaged"})
    rest = refund(api_client, charge_id, {})
    after = api_client.get(f"/api/v1/charges/{charge_id}").json()

    assert partial.status_code == rest.status_code == 201
    assert (partial.json()["amount"], rest.json()["amount"]) == (300, 700)
    assert partial.json()["status"] == "succeeded"
    assert (after["amount_refunded"], after["refunded"]) == (1000, True)


def test_refund_above_what_is_left_is_refused(api_client: APIClient, token: Token) -> None:
    charge_id = charged(api_client, token)
    refund(api_client, charge_id, {"amount": 600})

    response = refund(api_client, charge_id, {"amount": 401})

    assert response.status_code == 422
    assert response.json()["code"] == "refund_amount_too_large"
    assert Refund.objects.count() == 1
    assert Charge.objects.get(pk=charge_id).amount_refunded == 600


def test_failed_charge_cannot_be_refunded(
    api_client: APIClient, token_factory: Callable[..., Token]
) -> None:
    from tests.checkout.conftest import DECLINES

    token = token_factory(number=DECLINES["insufficient_funds"])
    charge_id = api_client.post(
        "/api/v1/charges", {"token": token.id, "amount": 100, "currency": "EUR"}, format="json"
    ).json()["id"]

    response = refund(api_client, charge_id, {})

    assert response.status_code == 422
    assert response.json()["code"] == "charge_not_refundable"
    assert Refund.objects.count() == 0


def test_refund_is_idempotent(api_client: APIClient, token: Token) -> None:
    charge_id = charged(api_client, token)

    first = refund(api_client, charge_id, {"amount": 100}, key="refund-1")
    second = refund(api_client, charge_id, {"amount": 100}, key="refund-1")

    assert second.json() == first.json()
    assert Refund.objects.count() == 1


def test_refund_of_unknown_charge_is_404(api_client: APIClient) -> None:
    response = refund(api_client, "ch_nope", {})
    assert response.status_code == 404
    assert response.json()["code"] == "charge_not_found"


def test_connection_error_fails_the_charge_without_charging(
    merchant: Merchant, token: Token, processor_fault: Callable[[str], None]
) -> None:
    processor_fault("connection_error")

    charge = charge_create(merchant=merchant, token_id=token.id, amount=100, currency="EUR")

    assert (charge.status, charge.failure_code) == ("failed", "processor_unavailable")
    assert SandboxLedgerEntry.objects.count() == 0


@pytest.mark.parametrize("fault", ["timeout_after", "timeout_before"])
def test_timeout_then_reconcile_gives_exactly_one_charge(
    api_client: APIClient, token: Token, processor_fault: Callable[[str], None], fault: str
) -> None:
    processor_fault(fault)
    response = api_client.post(
        "/api/v1/charges", {"token": token.id, "amount": 4200, "currency": "EUR"}, format="json"
    )
    charge_id = response.json()["id"]
    assert response.status_code == 202
    assert response.json()["status"] == "pending"

    processor_fault("")
    settled = charge_reconcile(charge_id=charge_id)
    again = charge_reconcile(charge_id=charge_id)

    assert settled.status == again.status == "succeeded"
    ledger = SandboxLedgerEntry.objects.filter(kind="charge")
    assert ledger.count() == 1
    assert ledger.get().idempotency_key == charge_id
    assert Charge.objects.get().processor_id == ledger.get().processor_id


def test_reconcile_job_only_touches_charges_old_enough(
    merchant: Merchant, token: Token, processor_fault: Callable[[str], None], settings
) -> None:
    settings.CHARGE_RECONCILE_AFTER_SECONDS = 300
    processor_fault("timeout_after")
    charge = charge_create(merchant=merchant, token_id=token.id, amount=100, currency="EUR")
    processor_fault("")

    assert charges_reconcile(now=timezone.now()) == 0
    assert Charge.objects.get().status == "pending"

    reconciled = charges_reconcile(now=timezone.now() + timedelta(minutes=6))

    assert reconciled == 1
    assert Charge.objects.get(pk=charge.pk).status == "succeeded"
    assert SandboxLedgerEntry.objects.count() == 1


def test_reconcile_command(merchant: Merchant, token: Token, processor_fault, settings) -> None:
    settings.CHARGE_RECONCILE_AFTER_SECONDS = 0
    processor_fault("timeout_before")
    charge_create(merchant=merchant, token_id=token.id, amount=100, currency="EUR")
    processor_fault("")

    call_command("reconcile_charges", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert Charge.objects.get().status == "succeeded"
    assert SandboxLedgerEntry.objects.count() == 1


def test_pending_refund_is_reconciled_once(
    api_client: APIClient, token: Token, processor_fault: Callable[[str], None], settings
) -> None:
    settings.CHARGE_RECONCILE_AFTER_SECONDS = 0
    charge_id = charged(api_client, token)
    processor_fault("timeout_after")
    pending = refund(api_client, charge_id, {"amount": 250})
    processor_fault("")

    charges_reconcile()

    assert pending.status_code == 202
    assert Refund.objects.get().status == "succeeded"
    assert SandboxLedgerEntry.objects.filter(kind="refund").count() == 1
    assert Charge.objects.get(pk=charge_id).amount_refunded == 250


def test_cvc_reaches_the_processor_for_the_first_charge_and_is_stored_nowhere(
    merchant: Merchant, token: Token, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection

    from checkout.payments.processors.sandbox import SandboxProcessor

    seen: list[str | None] = []
    original = SandboxProcessor.charge

    def spy(self: SandboxProcessor, **kwargs: Any) -> Any:
        seen.append(kwargs["card"].cvc)
        return original(self, **kwargs)

    monkeypatch.setattr(SandboxProcessor, "charge", spy)

    charge_create(merchant=merchant, token_id=token.id, amount=100, currency="EUR", cvc="987")
    charge_create(merchant=merchant, token_id=token.id, amount=100, currency="EUR")

    assert seen == ["987", None]
    with connection.cursor() as cursor:
        for model in (Charge, SandboxLedgerEntry):
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608
            # as a value of its own: random ids (``mer_5987…``) may hold the same three digits
            assert not re.search(r"(?<![0-9A-Za-z])987(?![0-9A-Za-z])", repr(cursor.fetchall()))


def test_token_revoked_after_the_check_fails_the_charge_without_the_processor(
    merchant: Merchant, token: Token
) -> None:
    from checkout.payments.services import charge_execute
    from vault.services import token_revoke

    charge = Charge.objects.create(
        merchant=merchant,
        livemode=False,
        token=token,
        amount=100,
        currency="EUR",
        processor="sandbox",
        created_at=timezone.now(),
    )
    token_revoke(token=token, actor="test", reason="lost")

    settled = charge_execute(charge=charge, token=Token.objects.get(pk=token.pk))

    assert (settled.status, settled.failure_code) == ("failed", "token_revoked")
    assert SandboxLedgerEntry.objects.count() == 0


def test_a_charge_is_settled_once_even_if_two_answers_arrive(
    merchant: Merchant, token: Token
) -> None:
    from checkout.payments.processors import ProcessorCharge
    from checkout.payments.services import charge_settle

    charge = Charge.objects.create(
        merchant=merchant,
        livemode=False,
        token=token,
        amount=100,
        currency="EUR",
        processor="sandbox",
        created_at=timezone.now(),
    )
    stale_copy = Charge.objects.get(pk=charge.pk)

    first = charge_settle(charge=charge, result=ProcessorCharge("py_1", approved=True))
    second = charge_settle(
        charge=stale_copy,
        result=ProcessorCharge("py_2", approved=False, failure_code="card_declined"),
    )

    assert (first.status, first.processor_id) == ("succeeded", "py_1")
    assert (second.status, second.processor_id) == ("succeeded", "py_1")
    assert Charge.objects.get(pk=charge.pk).processor_id == "py_1"


def test_declines_feed_the_card_testing_rules(merchant: Merchant, token_factory) -> None:
    from monitoring.security.models import SecurityAlert
    from tests.checkout.conftest import DECLINES

    stolen = token_factory(number=DECLINES["stolen_card"])
    for _ in range(5):
        charge_create(merchant=merchant, token_id=stolen.id, amount=100, currency="EUR")

    alert = SecurityAlert.objects.get(rule="declines.fingerprint")
    assert alert.source == stolen.fingerprint
    assert stolen.fingerprint  # the vault's keyed MAC, never a card number


def test_our_own_refusals_are_not_card_signals(
    merchant: Merchant, token: Token, processor_fault: Callable[[str], None]
) -> None:
    from monitoring.security.models import SecurityAlert

    processor_fault("connection_error")
    for _ in range(6):
        charge_create(merchant=merchant, token_id=token.id, amount=100, currency="EUR")

    assert SecurityAlert.objects.count() == 0
