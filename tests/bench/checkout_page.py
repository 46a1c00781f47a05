"""The hosted checkout page: its weight against the 30 KB budget, a whole page completion next
to the bare vault ingest it contains, and card encryption in Debian's Chromium next to the
server's ``card_encrypt`` (same run, same key)."""

from __future__ import annotations

import gzip
import statistics
import tempfile
import time
from pathlib import Path

from django.contrib.staticfiles import finders

from checkout.sessions.assets import (
    BRAND_MARKS,
    PAGE_MODULE,
    PAGE_MODULE_IMPORTS,
    PAGE_STYLESHEET,
)
from checkout.sessions.services import checkout_session_complete, checkout_session_create
from checkout.sessions.transport import card_encrypt, card_seal
from tests.bench.registry import BenchContext, bench, timed
from tests.bench.vault_tokens import _cards
from vault.envelope import data_keys
from vault.merchants import merchant_create
from vault.transport.ingest import card_ingest

BUDGET_BYTES = 30 * 1024
BUDGET_ENCRYPT_MS = 50.0


@bench("checkout_page.weight")
def page_weight(ctx: BenchContext) -> None:
    ctx.row("file", "bytes", "gzip -9", "share of budget")
    total = 0
    # Every brand mark counts, though a page loads at most one.
    for name in (PAGE_MODULE, *PAGE_MODULE_IMPORTS, PAGE_STYLESHEET, *BRAND_MARKS.values()):
        data = Path(str(finders.find(name))).read_bytes()
        packed = len(gzip.compress(data, compresslevel=9))
        total += packed
        ctx.row(name, len(data), packed, f"{packed / BUDGET_BYTES:.3f}")
    ctx.row("all JS + CSS + marks vs 30 KB budget", "", total, f"{total / BUDGET_BYTES:.3f}")


@bench("checkout_page.complete")
def page_complete(ctx: BenchContext) -> None:
    """Per card: the vault ingest alone (baseline) and a whole payment-session completion
    (claim, seal, ingest, sandbox charge, finish) over the same cards."""
    count = max(20, min(ctx.cards, 300))
    merchant = merchant_create(name="Bench checkout").in_mode(False)
    cards = _cards(count * 2)
    data_keys.clear()

    def payload(number: str) -> dict[str, object]:
        return {"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"}

    sealed = []
    for i, card in enumerate(cards[:count]):
        jwe = card_encrypt(payload(card.number), session_id=f"cs_b{i}", nonce="n")
        sealed.append(card_seal(jwe, session_id=f"cs_b{i}", nonce="n", merchant_id=merchant.pk))
    with timed() as ingest:
        for token in sealed:
            card_ingest(token)

    sessions = [
        checkout_session_create(
            merchant=merchant,
            mode="payment",
            amount=1000,
            currency="EUR",
            success_url="https://shop.example/ok",
            cancel_url="https://shop.example/cancel",
        )
        for _ in range(count)
    ]
    jwes = [
        card_encrypt(payload(card.number), session_id=s.pk, nonce=s.nonce)
        for s, card in zip(sessions, cards[count:], strict=True)
    ]
    with timed() as complete:
        for session, jwe in zip(sessions, jwes, strict=True):
            checkout_session_complete(session_id=session.pk, nonce=session.nonce, card_jwe=jwe)

    base = ingest.seconds / count * 1000
    full = complete.seconds / count * 1000
    ctx.row("per card", "ms", "ratio")
    ctx.row("vault card_ingest (baseline)", f"{base:.2f}", "1.00")
    ctx.row("checkout_session_complete (payment)", f"{full:.2f}", f"{full / base:.2f}")


@bench("checkout_page.browser_encrypt")
def browser_encrypt(ctx: BenchContext) -> None:
    """The page's jwe.js in Debian's Chromium, on the page served by gunicorn with TLS."""
    from playwright.sync_api import sync_playwright

    from payments_site.devtools import write_cert
    from tests.checkout.sessions.browser import CHROMIUM_ARGS, ensure_chromium
    from tests.support.servers import gunicorn

    runs = 50
    merchant = merchant_create(name="Bench page").in_mode(False)
    session = checkout_session_create(
        merchant=merchant,
        mode="setup",
        success_url="https://shop.example/ok",
        cancel_url="https://shop.example/cancel",
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        gunicorn(cert=write_cert(Path(folder))) as server,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=str(ensure_chromium()), args=CHROMIUM_ARGS
        )
        page = browser.new_context(ignore_https_errors=True).new_page()
        page.goto(f"{server.url}/checkout/{session.pk}/")
        browser_ms: list[float] = page.evaluate(
            """async (runs) => {
                const entry = document.querySelector('script[type="module"]').src;
                const { encryptCard } = await import(new URL("jwe.js", entry));
                const c = JSON.parse(document.getElementById("checkout-config").textContent);
                const card = {number: "0000", exp_month: 12, exp_year: 2040, cvc: "000",
                              sid: c.session, nonce: c.nonce};
                const times = [];
                for (let i = 0; i < runs; i += 1) {
                    const start = performance.now();
                    await encryptCard(c.jwk, card);
                    times.push(performance.now() - start);
                }
                return times;
            }""",
            runs,
        )
        browser.close()
    server_ms = []
    for _ in range(runs):
        start = time.perf_counter()
        card_encrypt({"number": "0000"}, session_id=session.pk, nonce=session.nonce)
        server_ms.append((time.perf_counter() - start) * 1000)
    base = statistics.median(server_ms)
    median = statistics.median(browser_ms)
    p95 = sorted(browser_ms)[int(runs * 0.95) - 1]
    ctx.row("card encryption", "median ms", "p95 ms", "vs server", "vs 50 ms")
    ctx.row("server card_encrypt (baseline)", f"{base:.2f}", "", "1.00", f"{base / 50:.3f}")
    ctx.row(
        "browser jwe.js (Chromium)",
        f"{median:.2f}",
        f"{p95:.2f}",
        f"{median / base:.2f}",
        f"{median / BUDGET_ENCRYPT_MS:.3f}",
    )
