"""Every public test card through every path that makes events — hosted checkout (with its
CVC), charges, refunds, renewals, revocation — delivered to a receiver; then no event payload,
delivered body or header, delivery log row or admin page contains a card number or a CVC."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.admin.utils import quote
from django.test import Client
from django.urls import reverse

from checkout.billing.services import subscription_bill, subscription_create
from checkout.payments.models import Charge
from checkout.payments.services import refund_create
from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import checkout_session_complete
from checkout.sessions.transport import card_encrypt
from checkout.webhooks.delivery import deliveries_run
from checkout.webhooks.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from monitoring.observability.redaction import redact_text
from tests.cards import load_cards
from tests.checkout.webhooks.conftest import Hooked, SimClock
from tests.factories import CheckoutSessionFactory
from vault.models import Merchant, Token
from vault.services import token_revoke

CARDS = load_cards()
EVERY_CARD = [c["number"] for c in CARDS["approve"] + CARDS["decline"]]
# Distinctive security codes, so that finding one anywhere means it leaked.
CVC3, CVC4 = "739", "7391"


def _cvc(card: dict[str, Any]) -> str:
    return CVC4 if card.get("cvc_length") == 4 else CVC3


def _forms(number: str) -> list[str]:
    """The number as typed: plain, in groups of four with spaces or dashes."""
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    return [number, " ".join(groups), "-".join(groups)]


def _leaks(text: str, *, redactor_net: bool) -> list[str]:
    """The card numbers and CVCs of this run found in ``text``; with ``redactor_net`` also any
    Luhn-valid 13–19 digit run at all (not for HTML pages, whose SVG icons have digit runs
    like "4 4 0 1 0 0-8 4 4", nor for hex signatures)."""
    found = [form for n in EVERY_CARD for form in _forms(n) if form in text]
    for cvc in (CVC3, CVC4):
        if re.search(rf"(?<![0-9A-Za-z]){cvc}(?![0-9A-Za-z])", text):
            found.append(f"cvc {cvc}")
    if redactor_net and redact_text(text) != text:
        found.append("something the redactor masks (a Luhn-valid number or a named CVC)")
    return found


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # events are recorded once each change commits
def test_no_card_number_or_cvc_reaches_events_deliveries_or_the_admin(
    hooked: Hooked, merchant: Merchant, clock: SimClock, admin_client: Client
) -> None:
    hooked.receiver.clock = clock.timestamp
    # given every test card paid through a hosted checkout (the CVC travels with it) …
    for card in CARDS["approve"] + CARDS["decline"]:
        session = CheckoutSessionFactory.create(merchant=merchant, amount=1250)
        jwe = card_encrypt(
            {"number": card["number"], "exp_month": 11, "exp_year": 2034, "cvc": _cvc(card)},
            session_id=session.pk,
            nonce=session.nonce,
        )
        checkout_session_complete(session_id=session.pk, nonce=session.nonce, card_jwe=jwe)
        session.refresh_from_db()
        if session.status != CheckoutSession.Status.COMPLETE:
            continue  # declined: its token was revoked (token.revoked, charge.failed)
        # … and each approved one refunded, put on a subscription renewed once, then revoked
        charge = Charge.objects.get(pk=session.charge_id)
        refund_create(merchant=merchant, charge_id=charge.id, amount=250)
        subscription = subscription_create(
            merchant=merchant,
            token_id=charge.token_id,
            amount=990,
            currency="EUR",
            interval="month",
        )
        subscription_bill(subscription_id=subscription.id, now=clock.now)
        token_revoke(token=Token.objects.get(pk=charge.token_id), actor="test", reason="done")
        clock.advance(seconds=1)
    # and a second endpoint that always fails, so the log holds failed attempts too
    failing, _ = _failing_endpoint(merchant)
    deliveries_run(now=clock.now, limit=10_000)
    deliveries_run(now=clock.advance(minutes=2), limit=10_000)

    # then the run covered what it claims to
    types = set(Event.objects.values_list("type", flat=True))
    assert types >= {
        "checkout.session.completed",
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
        "refund.succeeded",
        "subscription.created",
        "subscription.renewed",
        "subscription.past_due",
        "token.revoked",
    }
    assert len(hooked.receiver.accepted()) == Event.objects.count()
    assert WebhookAttempt.objects.filter(delivery__endpoint=failing, error__gt="").exists()

    # and nothing holds a card number or CVC
    texts: dict[str, str] = {}
    for event in Event.objects.all():
        texts[f"event {event.id}"] = event.payload
    for index, received in enumerate(hooked.receiver.requests):
        texts[f"delivered body {index}"] = received.body.decode()
        # Content-Length is the body's size, a bare number that can be any three digits.
        headers = {k: v for k, v in received.headers.items() if k.lower() != "content-length"}
        texts[f"delivered headers {index}"] = repr(headers)
    for attempt in WebhookAttempt.objects.all():
        texts[f"attempt {attempt.pk}"] = repr(
            [
                attempt.error,
                attempt.error_detail,
                attempt.response_excerpt,
                attempt.remote_address,
                attempt.status_code,
            ]
        )
    for delivery in WebhookDelivery.objects.all():
        # Its text columns: a card could only hide there, while the reprs of its timestamps
        # are digits a few characters apart, which the detector rightly takes for a number.
        columns = {name: value for name, value in vars(delivery).items() if isinstance(value, str)}
        texts[f"delivery {delivery.pk}"] = repr(columns)
    pages = ["/admin/checkout/event/", "/admin/checkout/webhookdelivery/"]
    pages += ["/admin/checkout/webhookendpoint/"]
    pages += [admin_change_url(e) for e in Event.objects.all()[:60]]
    pages += [admin_change_url(d) for d in WebhookDelivery.objects.all()[:60]]
    pages += [admin_change_url(e) for e in WebhookEndpoint.objects.all()]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        texts[page] = response.content.decode()
    leaks = {
        where: found
        for where, text in texts.items()
        if (found := _leaks(text, redactor_net=not where.startswith(("/", "delivered headers"))))
    }
    assert leaks == {}
    assert len(texts) > 200


def admin_change_url(obj: Any) -> str:
    """Admin URLs escape ``_`` in primary keys (``evt_…``): ask the admin for them."""
    return reverse(f"admin:checkout_{obj._meta.model_name}_change", args=[quote(obj.pk)])


def _failing_endpoint(merchant: Merchant) -> tuple[WebhookEndpoint, str]:
    from checkout.webhooks.services import webhook_endpoint_create

    # A port nobody listens on: every attempt fails with connection_refused.
    from tests.checkout.webhooks.receiver import silent_listener

    with silent_listener() as url:
        pass
    endpoint, secret = webhook_endpoint_create(merchant=merchant, url=url, enabled_events=["*"])
    # Queue the events written so far for it as well, as if it had existed all along.
    for event in Event.objects.all():
        WebhookDelivery.objects.create(
            event=event,
            endpoint=endpoint,
            livemode=event.livemode,
            next_attempt_at=event.created_at,
            created_at=event.created_at,
        )
    return endpoint, secret


def test_the_leak_detector_finds_what_it_looks_for() -> None:
    visa = EVERY_CARD[0]
    spaced = " ".join(visa[i : i + 4] for i in range(0, len(visa), 4))

    assert _leaks(f'{{"number": "{visa}"}}', redactor_net=False) == [visa]
    assert spaced in _leaks(f"<td>{spaced}</td>", redactor_net=False)
    assert _leaks(f'"cvc": "{CVC3}"', redactor_net=True) == [
        f"cvc {CVC3}",
        "something the redactor masks (a Luhn-valid number or a named CVC)",
    ]
    assert _leaks("evt_2Med739xQ at 12:07:39.739123", redactor_net=True) == []
