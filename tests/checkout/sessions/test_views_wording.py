"""What the page says: messages that name the field the shopper sees, a subscription's
renewal terms before they subscribe, and no claim about encryption where no card is taken."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from checkout.sessions.models import CheckoutSession
from tests.checkout.sessions.conftest import VISA
from tests.checkout.sessions.html import by_id, parse
from tests.checkout.sessions.test_views import page_url, raw_post
from vault.keys import KeyService

pytestmark = pytest.mark.django_db

Factory = Callable[..., CheckoutSession]
IN_THE_BROWSER = "encrypted in your browser"


def _config(html: str) -> dict:
    return json.loads(by_id(parse(html), "checkout-config").text)


def test_an_empty_submit_names_the_expiry_date_field(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory()

    response = client.post(page_url(session), raw_post(session, "", exp="", cvc=""))

    elements = parse(response.content.decode())
    assert response.status_code == 422
    label = next(e for e in elements if e.tag == "label" and e.attrs.get("for") == "cc-exp")
    assert label.text == "Expiry date"
    assert by_id(elements, "exp-error").text == "Enter your card's expiry date."
    assert by_id(elements, "number-error").text == "Enter your card number."
    assert by_id(elements, "cvc-error").text == "Enter your card's security code."
    assert "expiration" not in response.content.decode()


def test_the_script_gets_the_same_field_wording(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory()

    messages = _config(client.get(page_url(session)).content.decode())["rules"]["messages"]

    assert messages["month_missing"] == messages["year_missing"] == "Enter your card's expiry date."
    assert (
        messages["month_invalid"]
        == messages["year_invalid"]
        == ("Your card's expiry date is invalid.")
    )
    assert not any("expiration" in text for text in messages.values())


def test_a_subscription_shows_when_it_renews_and_how_to_cancel(
    keys: KeyService, client: Client, session_factory: Factory, settings: SettingsWrapper
) -> None:
    settings.CHECKOUT_CLOCK = "tests.checkout.clocks.february_2031"
    session = session_factory(mode="subscription", amount=900, currency="EUR", interval="month")

    elements = parse(client.get(page_url(session), HTTP_ACCEPT_LANGUAGE="en").content.decode())

    assert by_id(elements, "amount").text == "€9.00 per month"
    assert by_id(elements, "renewal-terms").text == (
        "You pay €9.00 today. Your subscription then renews automatically, €9.00 per month, "
        "next on March 1, 2031, until you cancel. You can cancel at any time with "
        f"{session.merchant.name}; nothing more is charged after you cancel."
    )
    assert by_id(elements, "pay-button").attrs["aria-describedby"] == "renewal-terms"


def test_a_one_off_payment_has_no_renewal_terms(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory()

    assert 'id="renewal-terms"' not in client.get(page_url(session)).content.decode()


def test_the_page_claims_browser_encryption_only_through_its_script(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory()

    html = client.get(page_url(session)).content.decode()

    # Without JavaScript the claim would be false: the page says what does happen, and the
    # script (which takes the raw fields' names away) swaps in the stronger sentence.
    assert IN_THE_BROWSER not in by_id(parse(html), "secured").text
    assert IN_THE_BROWSER in _config(html)["messages"]["secured"]


def test_the_complete_page_makes_no_claim_about_a_form_it_does_not_show(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory(mode="subscription", amount=900, currency="EUR", interval="month")
    client.post(page_url(session), raw_post(session, VISA))
    session.refresh_from_db()
    assert session.status == "complete"

    html = client.get(page_url(session)).content.decode()

    assert "Subscription started" in html
    assert "<form" not in html
    assert "encrypted" not in html
    subscription = session.subscription
    assert subscription is not None and subscription.next_billing_at is not None
    next_on = f"{subscription.next_billing_at:%B} {subscription.next_billing_at.day}, "
    assert next_on in by_id(parse(html), "next-payment").text
