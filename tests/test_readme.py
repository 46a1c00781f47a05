"""The README's shell blocks run as written, in order, in one shell, against a live server
(gunicorn with TLS, the demo merchant and key that ``make run`` creates). Blocks that start
the server or the suite themselves (``make …``) are the ones not run.

Where the README sends the reader to a browser to pay ("# Pay as a shopper would: …"), the
shell waits while a browser (Debian's Chromium, through Playwright) opens the URL the shell
printed last and pays with the test card the README names, as a newcomer would; the blocks
after it then read the payment back through the API."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import IO

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Route, expect

from checkout.payments.models import Charge
from checkout.sessions.models import CheckoutSession
from tests.checkout.sessions.conftest import NEXT_YEAR
from tests.checkout.sessions.test_views_browser import browser  # noqa: F401  (fixture)
from tests.support.servers import ROOT, gunicorn, server_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
PAY_STEP = "# Pay as a shopper would:"
DONE = "readme-test: waiting for the browser"


def readme_blocks() -> list[str]:
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    return [block for block in blocks if not re.search(r"^make ", block, re.M)]


def test_readme_has_shell_blocks_to_run() -> None:
    assert len(readme_blocks()) >= 5


def _split_at_the_payment(script: str) -> tuple[str, str, str]:
    """(before, the README's payment instructions, after)."""
    start = script.index(PAY_STEP)
    end = start
    for line in script[start:].splitlines(keepends=True):
        if not line.startswith("#"):
            break
        end += len(line)
    return script[:start], script[start:end], script[end:]


def test_the_readme_names_how_to_pay_and_with_which_card() -> None:
    _, instructions, after = _split_at_the_payment("\n".join(readme_blocks()))

    assert re.search(r"\b4242 4242 4242 4242\b", instructions)
    assert "open that URL in a browser" in instructions
    assert "$API/charges/$CHARGE" in after


def _lines_until(stream: IO[str], marker: str) -> Iterator[str]:
    for line in stream:
        if line.strip() == marker:
            return
        yield line


def _pay_in_the_browser(browser: Browser, url: str, card: str) -> str:  # noqa: F811
    """What the README tells a newcomer to do; answers with the URL the page led to."""
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    # The README's success_url is a shop that does not exist: the browser stops there.
    context.route("https://shop.example/**", lambda route: _shop(route))
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(url)
        expect(page.locator(".test-mode")).to_be_visible()
        page.locator("#cc-name").fill("Ada Lovelace")
        page.locator("#cc-number").press_sequentially(card)
        page.locator("#cc-exp").press_sequentially(f"12{NEXT_YEAR % 100:02d}")
        page.locator("#cc-csc").press_sequentially("123")
        expect(page.locator("#pay-button")).to_have_text("Pay €49.00")
        page.locator("#pay-button").click()
        page.wait_for_url("https://shop.example/thanks?*")
        return page.url
    finally:
        context.close()


def _shop(route: Route) -> None:
    route.fulfill(status=200, content_type="text/plain", body="thanks")


@pytest.mark.browser
def test_readme_shell_blocks_run_as_written(
    tls_cert: tuple[Path, Path],
    browser: Browser,  # noqa: F811
) -> None:
    out = StringIO()
    call_command("bootstrap_demo", stdout=out)
    key = re.search(r"api_key=(\S+)", out.getvalue())
    assert key is not None
    before, instructions, after = _split_at_the_payment("\n".join(readme_blocks()))
    card = re.search(r"\b4242 4242 4242 4242\b", instructions)
    assert card is not None
    # Every curl fails the script on an HTTP error, so a 4xx the README did not mean stops it.
    preamble = [
        "set -euo pipefail",
        'curl() { command curl --silent --show-error --fail-with-body "$@"; echo; }',
    ]

    with (
        gunicorn(cert=tls_cert, workers=1) as server,
        tempfile.TemporaryFile("w+") as errors,
    ):
        port = server.url.rsplit(":", 1)[1]
        shell = subprocess.Popen(
            ["bash", "-s"],
            cwd=ROOT,
            env=server_env({"TESSERA_KEY": key.group(1), "PORT": port}),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert shell.stdin is not None and shell.stdout is not None
        try:
            # The shell reads its script as it goes: the part after the payment is sent once
            # the browser has paid.
            shell.stdin.write("\n".join([*preamble, before, f"echo '{DONE}'", ""]))
            shell.stdin.flush()
            printed = list(_lines_until(shell.stdout, DONE))
            urls = re.findall(rf"https://localhost:{port}/checkout/cs_\w+/", "".join(printed))
            assert urls, "".join(printed)[-3000:]
            landed = _pay_in_the_browser(browser, urls[-1], card.group(0))
            rest, _ = shell.communicate(after, timeout=300)
        finally:
            if shell.poll() is None:
                shell.kill()
                shell.wait()
        errors.seek(0)
        stderr = errors.read()

    assert shell.returncode == 0, ("".join(printed) + rest)[-3000:] + stderr[-3000:]
    output = "".join(printed) + rest
    assert re.search(r'"token": ?"tok_', output)  # the sealed card became a token
    assert re.search(r'"failure_code": ?"insufficient_funds"', output)  # the decline
    assert re.search(r'"object": ?"refund"', output)
    assert re.search(r'"cancel_at_period_end": ?true', output)
    # The payment the browser made, as the README shows it: the session paid, its charge.
    session_id = urls[-1].rstrip("/").rsplit("/", 1)[1]
    assert landed == f"https://shop.example/thanks?session_id={session_id}"
    session = CheckoutSession.objects.get(pk=session_id)
    charge = Charge.objects.get(pk=session.charge_id)
    assert (charge.status, charge.amount, charge.livemode) == ("succeeded", 4900, False)
    assert re.search(r'"payment_status": ?"paid"', rest)
    assert re.search(rf'"id": ?"{charge.pk}"[^\n]*"status": ?"succeeded"', rest) or re.search(
        rf'"status": ?"succeeded"[^\n]*"id": ?"{charge.pk}"', rest
    )
