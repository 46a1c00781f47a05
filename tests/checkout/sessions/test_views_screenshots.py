"""Every state of the hosted page in Debian's Chromium, each checked and photographed.

The pictures always go to ``artifacts/checkout/screenshots/`` (CI keeps them); with
``UPDATE_SCREENSHOTS=1`` they also replace the ones in ``docs/screenshots/``. They are written
rather than compared: font rendering differs between Chromium builds, so a pixel comparison
would fail on every upgrade while proving nothing the assertions here do not.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from checkout.sessions.models import CheckoutSession
from tests.checkout.sessions.browser import Shop
from tests.checkout.sessions.conftest import DECLINED, NEXT_YEAR, VISA
from tests.checkout.sessions.test_views_browser import (  # noqa: F401  (fixtures)
    artifacts,
    browser,
    expect_success,
    new_session,
    server,
    shop,
    shopper_in,
)
from tests.support.servers import ROOT, RunningServer
from vault.models import Merchant

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = ROOT / "docs" / "screenshots"
# name → what it shows; docs/screenshots.md lists the same (test_screenshots_docs.py).
SCREENSHOTS = {
    "01-empty": "The payment form as it opens",
    "02-brand": "A Visa number typed: its brand mark, the number grouped",
    "03-errors": "Submitted empty: each field says what it needs",
    "04-declined": "A declined card: the message, the form ready for another card",
    "05-complete": "The page after the payment: no form, no claim about one",
    "06-subscription": "A subscription: the price, when it renews and how to cancel",
    "07-320px": "The subscription page on a 320 px screen",
    "08-no-javascript": "Without JavaScript: the same form, posting over HTTPS",
    "09-no-javascript-errors": "Without JavaScript, submitted empty: the server's field errors",
    "10-expired": "An expired checkout",
    "11-test-mode": "Test mode: the badge says so and that no money moves",
}
# The states every change to the page is seen in, each with the picture that shows it.
STATES = {
    "empty": "01-empty",
    "errors": "03-errors",
    "declined": "04-declined",
    "success": "05-complete",
    "test mode": "11-test-mode",
    "320 px": "07-320px",
    "no JavaScript": "08-no-javascript",
}
YY = f"{NEXT_YEAR % 100:02d}"


@pytest.fixture(scope="module")
def shots(artifacts: Path) -> Path:  # noqa: F811
    folder = artifacts / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def snap(page: Page, shots: Path, name: str) -> None:
    assert name in SCREENSHOTS, name
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / path.name)


def fits(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_payment_from_empty_form_to_complete(
    browser: Browser,  # noqa: F811
    server: RunningServer,  # noqa: F811
    shop: Shop,  # noqa: F811
    merchant: Merchant,
    shots: Path,
) -> None:
    session = new_session(merchant, shop)
    with shopper_in(browser, server, shop) as shopper:
        page = shopper.page
        shopper.open(session)
        expect(page.locator("#secured")).to_have_text(
            "Card details are encrypted in your browser before they are sent."
        )
        snap(page, shots, "01-empty")

        page.locator("#pay-button").click()
        expect(page.locator("#exp-error")).to_have_text("Enter your card's expiry date.")
        expect(page.locator("#number-error")).to_have_text("Enter your card number.")
        expect(page.locator("#cvc-error")).to_have_text("Enter your card's security code.")
        assert not shopper.posts()
        snap(page, shots, "03-errors")

        shopper.fill_card(DECLINED, f"12{YY}", "321")
        page.locator("#pay-button").click()
        expect(page.locator("#form-error")).to_have_text(
            "Your card was declined. Try another card."
        )
        snap(page, shots, "04-declined")

        shopper.fill_card(VISA, f"12{YY}", "321")
        mark = page.locator("#card-brand img")
        expect(mark).to_have_attribute("alt", "Visa")
        # The self-hosted SVG loaded under the page's CSP (a blocked image has no width).
        assert page.evaluate("document.querySelector('#card-brand img').naturalWidth") > 0
        assert str(mark.get_attribute("src")).startswith("/static/checkout/brands/visa")
        snap(page, shots, "02-brand")
        page.locator("#pay-button").click()
        expect_success(shopper, session)

        shopper.open(session)
        expect(page.locator("h1")).to_have_text("Payment complete")
        assert page.locator("form").count() == 0
        assert "encrypted" not in page.locator("body").inner_text()
        snap(page, shots, "05-complete")


def test_a_subscription_states_its_terms_even_at_320px(
    browser: Browser,  # noqa: F811
    server: RunningServer,  # noqa: F811
    shop: Shop,  # noqa: F811
    merchant: Merchant,
    shots: Path,
) -> None:
    session = new_session(merchant, shop, mode="subscription", interval="month", amount=900)
    with shopper_in(browser, server, shop) as shopper:
        shopper.open(session)
        expect(shopper.page.locator("#renewal-terms")).to_contain_text("renews automatically")
        expect(shopper.page.locator("#pay-button")).to_have_text("Subscribe")
        snap(shopper.page, shots, "06-subscription")
    with shopper_in(browser, server, shop, viewport={"width": 320, "height": 640}) as shopper:
        shopper.open(session)
        expect(shopper.page.locator("#renewal-terms")).to_be_visible()
        fits(shopper.page, 320)
        snap(shopper.page, shots, "07-320px")


def test_without_javascript_the_form_and_its_errors(
    browser: Browser,  # noqa: F811
    server: RunningServer,  # noqa: F811
    shop: Shop,  # noqa: F811
    merchant: Merchant,
    shots: Path,
) -> None:
    session = new_session(merchant, shop)
    with shopper_in(browser, server, shop, java_script_enabled=False) as shopper:
        page = shopper.page
        shopper.open(session)
        secured = page.locator("#secured").inner_text()
        assert "in your browser" not in secured and "encrypted" in secured
        snap(page, shots, "08-no-javascript")

        # (The inputs are ``required``: the browser itself refuses an empty form.)
        page.locator("#cc-name").fill("Ada Lovelace")
        page.locator("#cc-number").fill("4242")
        page.locator("#cc-exp").fill("13 / 30")
        page.locator("#cc-csc").fill("1")
        page.locator("#pay-button").click()
        expect(page.locator("#exp-error")).to_have_text("Your card's expiry date is invalid.")
        expect(page.locator("#number-error")).to_have_text("Your card number is incomplete.")
        snap(page, shots, "09-no-javascript-errors")


def test_an_expired_checkout(
    browser: Browser,  # noqa: F811
    server: RunningServer,  # noqa: F811
    shop: Shop,  # noqa: F811
    merchant: Merchant,
    shots: Path,
) -> None:
    session = new_session(merchant, shop)
    now = timezone.now()
    CheckoutSession.objects.filter(pk=session.pk).update(
        created_at=now - timedelta(hours=25), expires_at=now - timedelta(hours=1)
    )
    with shopper_in(browser, server, shop) as shopper:
        response = shopper.page.goto(f"{server.url}/checkout/{session.pk}/")
        assert response is not None and response.status == 410
        expect(shopper.page.locator("h1")).to_have_text("This checkout has expired")
        snap(shopper.page, shots, "10-expired")


def test_test_mode_wears_its_badge_and_live_mode_none(
    browser: Browser,  # noqa: F811
    server: RunningServer,  # noqa: F811
    shop: Shop,  # noqa: F811
    merchant: Merchant,
    shots: Path,
) -> None:
    test_session = new_session(merchant.in_mode(False), shop)
    live_session = new_session(merchant.in_mode(True), shop)
    with shopper_in(browser, server, shop) as shopper:
        shopper.open(live_session)
        expect(shopper.page.locator("#pay-button")).to_be_visible()
        assert shopper.page.locator(".test-mode").count() == 0

        shopper.open(test_session)
        badge = shopper.page.locator(".test-mode")
        expect(badge).to_be_visible()
        expect(badge).to_have_text("Test mode · Use a test card. No money moves.")
        # Above the form, where a shopper looks first.
        badge_box, form_box = badge.bounding_box(), shopper.page.locator("form").bounding_box()
        assert badge_box is not None and form_box is not None
        assert badge_box["y"] < form_box["y"]
        snap(shopper.page, shots, "11-test-mode")
