"""The hosted page as a shopper uses it: Debian's Chromium (Playwright) against gunicorn with
TLS, a stand-in shop for the success and cancel URLs, and every request the page sends
recorded and searched for the card."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from checkout.payments.models import Charge
from checkout.sessions.models import CheckoutSession
from checkout.sessions.services import checkout_session_create
from checkout.sessions.transport import card_encrypt
from tests.checkout.sessions.browser import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    Sent,
    Shop,
    assert_card_never_sent,
    ensure_chromium,
    jwe_header,
    record_requests,
    shop_server,
)
from tests.checkout.sessions.conftest import AMEX, DECLINED, LUHN_WRONG, NEXT_YEAR, VISA
from tests.support.servers import RunningServer, gunicorn
from vault.models import Merchant, Token, WorkingKey

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

YY = f"{NEXT_YEAR % 100:02d}"
# CVCs that appear nowhere else in a request (not in a port, a length or a user agent).
VISA_CVC = "321"
AMEX_CVC = "7294"


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def shop(tls_cert: tuple[Path, Path]) -> Iterator[Shop]:
    with shop_server(tls_cert) as running:
        yield running


@pytest.fixture(scope="module")
def server(
    django_db_setup: None, tls_cert: tuple[Path, Path], artifacts: Path
) -> Iterator[RunningServer]:
    # One data key per card: the tests flush the database between them, and a worker must
    # not keep sealing with a data key whose row is gone.
    env = {"DATA_KEY_MAX_USES": "1", "WEB_CONCURRENCY": "2"}
    with gunicorn(cert=tls_cert, env=env, log_path=artifacts / "gunicorn.log") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = ensure_chromium()
    # Playwright's sync API keeps an event loop on this thread; the ORM calls the tests make
    # between browser steps are plain synchronous code.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=str(executable), args=CHROMIUM_ARGS
            )
            yield launched
            launched.close()


@dataclass
class Shopper:
    page: Page
    sent: list[Sent]
    server: RunningServer
    shop: Shop

    def open(self, session: CheckoutSession) -> None:
        self.page.goto(f"{self.server.url}/checkout/{session.pk}/")

    def posts(self) -> list[Sent]:
        return [s for s in self.sent if s.method == "POST"]

    def fill_card(self, number: str, exp: str, cvc: str, name: str = "Ada Lovelace") -> None:
        page = self.page
        page.locator("#cc-name").fill(name)
        page.locator("#cc-number").press_sequentially(number)
        page.locator("#cc-exp").press_sequentially(exp)
        page.locator("#cc-csc").press_sequentially(cvc)

    def hosts(self) -> set[str]:
        return {urlsplit(s.url).netloc for s in self.sent}


@contextmanager
def shopper_in(
    browser: Browser, server: RunningServer, shop: Shop, **options: Any
) -> Iterator[Shopper]:
    options.setdefault("viewport", {"width": 480, "height": 860})
    context = browser.new_context(ignore_https_errors=True, locale="en-US", **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sent = record_requests(page)
    try:
        yield Shopper(page, sent, server, shop)
    finally:
        context.close()


@pytest.fixture
def shopper(browser: Browser, server: RunningServer, shop: Shop) -> Iterator[Shopper]:
    with shopper_in(browser, server, shop) as running:
        yield running


@pytest.fixture
def session(merchant: Merchant, shop: Shop) -> CheckoutSession:
    return new_session(merchant, shop)


def new_session(merchant: Merchant, shop: Shop, **fields: Any) -> CheckoutSession:
    fields.setdefault("mode", "payment")
    if fields["mode"] != "setup":
        fields.setdefault("amount", 4900)
        fields.setdefault("currency", "EUR")
    return checkout_session_create(
        merchant=merchant,
        success_url=f"{shop.url}/success?order=42&session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{shop.url}/cancel",
        description="Two books",
        **fields,
    )


def expect_success(shopper: Shopper, session: CheckoutSession) -> None:
    shopper.page.wait_for_url(f"{shopper.shop.url}/success*")
    query = parse_qs(urlsplit(shopper.page.url).query)
    assert query == {"order": ["42"], "session_id": [session.pk]}
    expect(shopper.page.locator("#shop-title")).to_have_text("Thank you!")


def assert_only_jwe_posted(shopper: Shopper, session: CheckoutSession) -> None:
    for post in shopper.posts():
        form = post.form()
        assert set(form) == {"csrfmiddlewaretoken", "nonce", "name", "card_jwe"}
        assert jwe_header(form["card_jwe"][0])["alg"] == "ECDH-ES"
        assert post.url == f"{shopper.server.url}/checkout/{session.pk}/"


# --- the shopper's paths -------------------------------------------------------------------------


def test_pay_with_a_visa_and_land_on_the_success_url(
    shopper: Shopper, session: CheckoutSession, artifacts: Path
) -> None:
    page = shopper.page
    shopper.open(session)
    expect(page.locator("#amount")).to_have_text("€49.00")
    for field in ("cc-number", "cc-exp", "cc-csc"):  # the module ran and took the names away
        assert page.locator(f"#{field}").get_attribute("name") is None
    page.screenshot(path=str(artifacts / "01-empty-form.png"), full_page=True)

    shopper.fill_card(" ".join([VISA[:4], VISA[4:8], VISA[8:12], VISA[12:]]), f"12{YY}", VISA_CVC)
    expect(page.locator("#cc-number")).to_have_value("4242 4242 4242 4242")
    expect(page.locator("#card-brand img")).to_have_attribute("alt", "Visa")
    expect(page.locator("#cc-exp")).to_have_value(f"12 / {YY}")
    page.screenshot(path=str(artifacts / "02-filled-form.png"), full_page=True)
    page.locator("#pay-button").click()

    expect_success(shopper, session)
    page.screenshot(path=str(artifacts / "05-success-page.png"), full_page=True)
    session.refresh_from_db()
    assert session.status == "complete"
    assert Token.objects.get(pk=session.token_id).last4 == VISA[-4:]
    assert Charge.objects.get(pk=session.charge_id).status == Charge.Status.SUCCEEDED
    assert len(shopper.posts()) == 1
    assert_only_jwe_posted(shopper, session)
    assert_card_never_sent(shopper.sent, number=VISA, cvc=VISA_CVC)
    assert shopper.hosts() == {
        urlsplit(shopper.server.url).netloc,
        urlsplit(shopper.shop.url).netloc,
    }

    # Back on the page later: it says the payment is done and takes no card.
    shopper.open(session)
    expect(page.locator("h1")).to_have_text("Payment complete")
    page.screenshot(path=str(artifacts / "06-complete-page.png"), full_page=True)


def test_an_amex_groups_4_6_5_and_takes_a_4_digit_cvc(
    shopper: Shopper, session: CheckoutSession
) -> None:
    page = shopper.page
    shopper.open(session)

    shopper.fill_card(AMEX, f"9{YY}", AMEX_CVC + "9")  # month 9, and one CVC digit too many

    expect(page.locator("#cc-number")).to_have_value(f"{AMEX[:4]} {AMEX[4:10]} {AMEX[10:]}")
    expect(page.locator("#card-brand img")).to_have_attribute("alt", "American Express")
    expect(page.locator("#cc-exp")).to_have_value(f"09 / {YY}")
    expect(page.locator("#cc-csc")).to_have_value(AMEX_CVC)
    expect(page.locator("#cvc-hint")).to_have_text("4 digits on the front of the card")
    page.locator("#pay-button").click()

    expect_success(shopper, session)
    session.refresh_from_db()
    token = Token.objects.get(pk=session.token_id)
    assert (token.brand, token.last4, token.exp_month) == ("amex", AMEX[-4:], 9)
    assert_only_jwe_posted(shopper, session)
    assert_card_never_sent(shopper.sent, number=AMEX, cvc=AMEX_CVC)


def test_a_wrong_luhn_digit_is_caught_before_any_request(
    shopper: Shopper, session: CheckoutSession, artifacts: Path
) -> None:
    page = shopper.page
    shopper.open(session)
    loaded = len(shopper.sent)

    shopper.fill_card(LUHN_WRONG, f"12{YY}", VISA_CVC)
    page.locator("#pay-button").click()

    number = page.locator("#cc-number")
    expect(page.locator("#number-error")).to_have_text("Your card number is incorrect.")
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(number).to_be_focused()
    expect(page.locator("#live")).to_have_text("Your card number is incorrect.")
    assert "number-error" in (number.get_attribute("aria-describedby") or "").split()
    page.screenshot(path=str(artifacts / "03-error-state.png"), full_page=True)
    # Nothing was sent but the typed brand's mark, fetched from the checkout's own origin.
    later = shopper.sent[loaded:]
    assert all(s.method == "GET" and "/static/checkout/brands/" in s.url for s in later)
    assert not shopper.posts()
    assert_card_never_sent(shopper.sent, number=LUHN_WRONG, cvc=VISA_CVC)
    assert not Token.objects.exists()


def test_an_expired_date_is_caught_in_the_page(shopper: Shopper, session: CheckoutSession) -> None:
    page = shopper.page
    shopper.open(session)

    shopper.fill_card(VISA, "1220", VISA_CVC)
    page.locator("#pay-button").click()

    expect(page.locator("#exp-error")).to_have_text("Your card has expired.")
    expect(page.locator("#cc-exp")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#number-error")).to_have_text("")
    assert not shopper.posts()
    # Corrected, the error goes as soon as the date is right and the payment goes through.
    page.locator("#cc-exp").fill("")
    page.locator("#cc-exp").press_sequentially(f"12{YY}")
    expect(page.locator("#exp-error")).to_have_text("")
    page.locator("#pay-button").click()
    expect_success(shopper, session)
    assert_card_never_sent(shopper.sent, number=VISA, cvc=VISA_CVC)


def test_a_declined_card_then_a_good_one_in_the_same_session(
    shopper: Shopper, session: CheckoutSession, artifacts: Path
) -> None:
    page = shopper.page
    shopper.open(session)

    shopper.fill_card(DECLINED, f"12{YY}", VISA_CVC)
    page.locator("#pay-button").click()
    expect(page.locator("#form-error")).to_have_text("Your card was declined. Try another card.")
    expect(page.locator("#cc-name")).to_have_value("Ada Lovelace")
    expect(page.locator("#cc-number")).to_have_value("")
    page.screenshot(path=str(artifacts / "04-declined.png"), full_page=True)
    session.refresh_from_db()
    assert session.status == "open" and session.last_failure_code == "card_declined"

    page.locator("#cc-number").press_sequentially(VISA)
    page.locator("#cc-exp").press_sequentially(f"12{YY}")
    page.locator("#cc-csc").press_sequentially(VISA_CVC)
    page.locator("#pay-button").click()

    expect_success(shopper, session)
    session.refresh_from_db()
    assert session.attempts == 2
    assert Token.objects.get(pk=session.token_id).last4 == VISA[-4:]
    assert len(shopper.posts()) == 2
    assert_only_jwe_posted(shopper, session)
    assert_card_never_sent(shopper.sent, number=DECLINED, cvc=VISA_CVC)
    assert_card_never_sent(shopper.sent, number=VISA, cvc=VISA_CVC)


def test_keyboard_only_completion(shopper: Shopper, session: CheckoutSession) -> None:
    page = shopper.page
    keyboard = page.keyboard
    shopper.open(session)

    def focused() -> str:
        return str(page.evaluate("document.activeElement.id"))

    keyboard.press("Tab")
    assert focused() == "cc-name"
    keyboard.type("Ada Lovelace")
    keyboard.press("Tab")
    assert focused() == "cc-number"
    keyboard.type(VISA)
    keyboard.press("Tab")
    assert focused() == "cc-exp"
    keyboard.type(f"12{YY}")
    keyboard.press("Tab")
    assert focused() == "cc-csc"
    keyboard.type(VISA_CVC)
    keyboard.press("Tab")
    assert focused() == "pay-button"
    keyboard.press("Enter")

    expect_success(shopper, session)
    session.refresh_from_db()
    assert Token.objects.get(pk=session.token_id).last4 == VISA[-4:]
    assert_card_never_sent(shopper.sent, number=VISA, cvc=VISA_CVC)


def test_with_javascript_disabled_the_form_still_completes(
    browser: Browser, server: RunningServer, shop: Shop, merchant: Merchant
) -> None:
    session = new_session(merchant, shop, mode="setup")
    with shopper_in(browser, server, shop, java_script_enabled=False) as shopper:
        page = shopper.page
        shopper.open(session)
        page.locator("#cc-name").fill("Ada Lovelace")
        page.locator("#cc-number").fill(f"{VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]}")
        page.locator("#cc-exp").fill(f"12 / {YY}")
        page.locator("#cc-csc").fill(VISA_CVC)
        page.locator("#pay-button").click()
        expect_success(shopper, session)

    session.refresh_from_db()
    assert session.status == "complete"
    assert Token.objects.get(pk=session.token_id).last4 == VISA[-4:]
    # Without a script the fields travel as typed, once, over TLS, to the checkout itself;
    # nothing else (the redirect, the shop) ever sees them.
    (post,) = shopper.posts()
    assert post.url == f"{server.url}/checkout/{session.pk}/" and post.url.startswith("https://")
    assert set(post.form()) == {"csrfmiddlewaretoken", "nonce", "name", "number", "exp", "cvc"}
    assert_card_never_sent([s for s in shopper.sent if s is not post], number=VISA, cvc=VISA_CVC)


def test_the_page_fits_a_320px_screen(
    browser: Browser, server: RunningServer, shop: Shop, merchant: Merchant, artifacts: Path
) -> None:
    session = new_session(merchant, shop, mode="subscription", interval="month", amount=123456)
    with shopper_in(browser, server, shop, viewport={"width": 320, "height": 640}) as shopper:
        page = shopper.page
        shopper.open(session)
        width = page.evaluate("document.documentElement.scrollWidth")
        button = page.locator("#pay-button").bounding_box()
        page.screenshot(path=str(artifacts / "07-320px.png"), full_page=True)

    assert width <= 320
    assert button is not None and button["x"] >= 0 and button["x"] + button["width"] <= 320


def test_encryption_in_the_browser_is_measured(
    shopper: Shopper, session: CheckoutSession, artifacts: Path
) -> None:
    """A benchmark, not a timing assertion: the page's own jwe.js in this Chromium, 30 runs,
    next to the server's card_encrypt on the same card as the same-run baseline."""
    shopper.open(session)
    runs = 30
    browser_ms: list[float] = shopper.page.evaluate(
        """async (runs) => {
            const entry = document.querySelector('script[type="module"]').src;
            const { encryptCard } = await import(new URL("jwe.js", entry));
            const config = JSON.parse(document.getElementById("checkout-config").textContent);
            const payload = {number: "0000", exp_month: 12, exp_year: 2040, cvc: "000",
                             sid: config.session, nonce: config.nonce};
            const times = [];
            for (let i = 0; i < runs; i += 1) {
                const start = performance.now();
                await encryptCard(config.jwk, payload);
                times.push(performance.now() - start);
            }
            return times;
        }""",
        runs,
    )
    payload = {"number": "0000", "exp_month": 12, "exp_year": 2040, "cvc": "000"}
    server_ms = []
    for _ in range(runs):
        start = time.perf_counter()
        card_encrypt(payload, session_id=session.pk, nonce=session.nonce)
        server_ms.append((time.perf_counter() - start) * 1000)

    median = statistics.median(browser_ms)
    report = {
        "runs": runs,
        "browser_encrypt_ms_median": round(median, 3),
        "browser_encrypt_ms_p95": round(sorted(browser_ms)[int(runs * 0.95) - 1], 3),
        "server_card_encrypt_ms_median": round(statistics.median(server_ms), 3),
        "browser_vs_server_ratio": round(median / statistics.median(server_ms), 2),
        "browser_vs_50ms_budget_ratio": round(median / 50, 4),
    }
    (artifacts / "encryption-timing.json").write_text(json.dumps(report, indent=2))
    print(f"\ncheckout page encryption: {report}")  # noqa: T201
    assert len(browser_ms) == runs and all(t >= 0 for t in browser_ms)
    assert os.path.getsize(artifacts / "encryption-timing.json") > 0


# --- working keys: the page encrypts to the working JWE key, the vault trusts its certificate ----


@pytest.fixture
def working_server(tls_cert: tuple[Path, Path], artifacts: Path) -> Iterator[RunningServer]:
    """A server of its own: its workers keep working keys in memory, and each test flushes the
    rows they were loaded from."""
    env = {"DATA_KEY_MAX_USES": "1", "WEB_CONCURRENCY": "2", "KEYS_MODE": "working"}
    log_path = artifacts / "gunicorn-working.log"
    with gunicorn(cert=tls_cert, env=env, log_path=log_path) as running:
        yield running


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_working_keys_take_a_card_from_the_page(
    browser: Browser,
    working_server: RunningServer,
    shop: Shop,
    merchant: Merchant,
    javascript: bool,
) -> None:
    session = new_session(merchant, shop)
    with shopper_in(browser, working_server, shop, java_script_enabled=javascript) as shopper:
        shopper.open(session)
        page = shopper.page
        if javascript:
            shopper.fill_card(VISA, f"12{YY}", VISA_CVC)
        else:
            page.locator("#cc-name").fill("Ada Lovelace")
            page.locator("#cc-number").fill(VISA)
            page.locator("#cc-exp").fill(f"12 / {YY}")
            page.locator("#cc-csc").fill(VISA_CVC)
        page.locator("#pay-button").click()
        expect_success(shopper, session)
        _, _, jwks = working_server.get("/.well-known/jwks.json")

    session.refresh_from_db()
    assert session.status == "complete"
    assert Charge.objects.get(pk=session.charge_id).status == Charge.Status.SUCCEEDED
    working = set(
        WorkingKey.objects.filter(use=WorkingKey.Use.CARD_JWE).values_list("kid", flat=True)
    )
    enc_kids = {key["kid"] for key in json.loads(jwks)["keys"] if key["use"] == "enc"}
    assert working and working <= enc_kids
    # The card JWT was signed by a certified working key, not by KMS.
    assert WorkingKey.objects.filter(use=WorkingKey.Use.CARD_SIGN).exclude(certificate=None)
    (post,) = shopper.posts()
    if javascript:
        header = jwe_header(post.form()["card_jwe"][0])
        assert header["alg"] == "ECDH-ES" and header["kid"] in working
        assert_card_never_sent(shopper.sent, number=VISA, cvc=VISA_CVC)
    else:
        assert_card_never_sent(
            [s for s in shopper.sent if s is not post], number=VISA, cvc=VISA_CVC
        )
