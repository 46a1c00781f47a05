"""A processor per mode: the sandbox serves test mode only; live mode uses ``PROCESSOR_LIVE``
or, without one, is refused before anything is stored."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from rest_framework.test import APIClient

from checkout.billing.models import Subscription
from checkout.payments.idempotency.models import IdempotencyKey
from checkout.payments.models import Charge, Refund
from checkout.payments.processors import get_processor
from checkout.payments.processors.models import SandboxLedgerEntry
from checkout.payments.processors.sandbox import SandboxProcessor
from checkout.payments.services import charge_create, charges_reconcile
from checkout.sessions.models import CheckoutSession
from tests.factories import TokenFactory
from tests.payments_site.test_settings import KMS_ENV, _run, production_env
from tests.support.processors import LiveTestProcessor
from vault.merchants import api_key_create
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db

# A live card: a real-looking number, not one of the public test cards.
LIVE_NUMBER = "4" + "1" * 14


def _luhn_complete(partial: str) -> str:
    for check in "0123456789":
        candidate = partial + check
        total = 0
        for i, c in enumerate(reversed(candidate)):
            d = int(c) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def _live_token(merchant: Merchant) -> Token:
    return TokenFactory.create(merchant=merchant.in_mode(True), number=_luhn_complete(LIVE_NUMBER))


def _client(merchant: Merchant, *, live: bool) -> APIClient:
    client = APIClient()
    secret = api_key_create(merchant=merchant, mode="live" if live else "test").secret
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def sandbox_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every call that reaches the sandbox, by method."""
    calls: Counter[str] = Counter()
    for name in ("charge", "charge_lookup", "refund"):
        original = getattr(SandboxProcessor, name)

        def spy(self: Any, *args: Any, _name: str = name, _orig: Any = original, **kw: Any) -> Any:
            calls[_name] += 1
            return _orig(self, *args, **kw)

        monkeypatch.setattr(SandboxProcessor, name, spy)
    LiveTestProcessor.reset()
    yield calls
    LiveTestProcessor.reset()


# --- none configured ------------------------------------------------------------------------

LIVE_WRITES: dict[str, Callable[[APIClient, dict[str, str]], Any]] = {
    "charge": lambda c, ids: c.post(
        "/api/v1/charges", {"token": ids["token"], "amount": 500, "currency": "EUR"}, format="json"
    ),
    "refund": lambda c, ids: c.post(f"/api/v1/charges/{ids['charge']}/refunds", {}, format="json"),
    "subscription": lambda c, ids: c.post(
        "/api/v1/subscriptions",
        {"token": ids["token"], "amount": 500, "currency": "EUR", "interval": "month"},
        format="json",
    ),
    "checkout_session": lambda c, ids: c.post(
        "/api/v1/checkout/sessions",
        {
            "mode": "payment",
            "amount": 500,
            "currency": "EUR",
            "success_url": "https://shop.example/ok",
            "cancel_url": "https://shop.example/no",
        },
        format="json",
    ),
}


@pytest.mark.parametrize("write", sorted(LIVE_WRITES))
def test_without_a_live_processor_live_money_is_refused_before_anything_is_stored(
    write: str, merchant: Merchant, settings: Any, sandbox_calls: Counter[str]
) -> None:
    token = _live_token(merchant)
    charge = charge_create(
        merchant=merchant.in_mode(True), token_id=token.id, amount=900, currency="EUR"
    )
    settings.PROCESSOR_LIVE = ""
    counts = [m.objects.count() for m in (Charge, Refund, Subscription, CheckoutSession)]

    response = LIVE_WRITES[write](
        _client(merchant, live=True), {"token": token.id, "charge": charge.id}
    )

    assert response.status_code == 403, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "live_mode_unavailable"
    assert body["type"].endswith("/live_mode_unavailable")
    assert "PROCESSOR_LIVE" in body["detail"]
    assert [m.objects.count() for m in (Charge, Refund, Subscription, CheckoutSession)] == counts
    assert sum(sandbox_calls.values()) == 0


def test_without_a_live_processor_test_mode_still_works(
    merchant: Merchant, settings: Any, sandbox_calls: Counter[str]
) -> None:
    settings.PROCESSOR_LIVE = ""
    token = TokenFactory.create(merchant=merchant)

    response = LIVE_WRITES["charge"](_client(merchant, live=False), {"token": token.id})

    assert response.status_code == 201
    assert response.json()["livemode"] is False
    assert sandbox_calls["charge"] == 1


def test_a_sandbox_named_as_live_processor_is_refused(settings: Any) -> None:
    settings.PROCESSOR_LIVE = "checkout.payments.processors.sandbox.SandboxProcessor"

    with pytest.raises(ImproperlyConfigured, match="sandbox"):
        get_processor(livemode=True)
    assert isinstance(get_processor(livemode=False), SandboxProcessor)


def test_production_settings_refuse_the_sandbox_as_live_processor() -> None:
    env = {
        **production_env(),
        **KMS_ENV,
        "PROCESSOR_LIVE": "checkout.payments.processors.sandbox.SandboxProcessor",
    }

    result = _run("manage.py", "check", env=env)

    assert result.returncode != 0
    assert "PROCESSOR_LIVE cannot be the sandbox" in result.stderr
    # …and without it they start (live mode then simply unavailable).
    env.pop("PROCESSOR_LIVE")
    assert _run("manage.py", "check", env=env).returncode == 0


# --- live mode never reaches the sandbox ------------------------------------------------------


def test_live_mode_never_reaches_the_sandbox(
    merchant: Merchant,
    sandbox_calls: Counter[str],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    """Charges, refunds, subscriptions with their first period and renewals, and the
    reconcile of a lost answer: all on the live processor, none on the sandbox."""
    client = _client(merchant, live=True)
    token = _live_token(merchant)
    ledger_before = SandboxLedgerEntry.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        charge = LIVE_WRITES["charge"](client, {"token": token.id}).json()
        refund = LIVE_WRITES["refund"](client, {"charge": charge["id"]}).json()
        subscription = LIVE_WRITES["subscription"](client, {"token": token.id}).json()
    # A renewal, billed by the runner a period later.
    Subscription.objects.filter(pk=subscription["id"]).update(
        next_billing_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_billing", "--no-reconcile")
    # A charge whose answer was lost, settled by the reconcile job.
    pending = Charge.objects.create(
        merchant=merchant,
        livemode=True,
        token=token,
        amount=700,
        currency="EUR",
        processor="LiveTestProcessor",
        created_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
    )
    charges_reconcile()

    assert (charge["status"], charge["livemode"]) == ("succeeded", True)
    assert (refund["status"], refund["livemode"]) == ("succeeded", True)
    assert subscription["livemode"] is True
    live_charges = Charge.objects.filter(livemode=True, subscription_id=subscription["id"])
    assert [c.period for c in live_charges.order_by("period")] == [0, 1]
    assert {c.status for c in live_charges} == {"succeeded"}
    pending.refresh_from_db()
    assert pending.status == "succeeded"
    # Counted on both sides: the live processor did the work, the sandbox saw none of it.
    assert LiveTestProcessor.calls == Counter(charge=4, refund=1, charge_lookup=1)
    assert sum(sandbox_calls.values()) == 0
    assert SandboxLedgerEntry.objects.count() == ledger_before
    assert not IdempotencyKey.objects.filter(livemode=False).exists()
