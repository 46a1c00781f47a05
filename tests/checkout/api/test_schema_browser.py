"""The API docs in a real browser: Swagger UI renders every operation from local assets with
the strict CSP in force, and the browser reports no violation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.servers import gunicorn

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def test_docs_render_under_the_csp_without_violations(tls_cert: tuple[Path, Path]) -> None:
    from playwright.sync_api import sync_playwright

    with gunicorn(cert=tls_cert, workers=1) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(ignore_https_errors=True)
        messages: list[str] = []
        external: list[str] = []
        page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
        page.on(
            "request",
            lambda request: (
                None if request.url.startswith(server.url) else external.append(request.url)
            ),
        )
        page.goto(f"{server.url}/api/docs/")
        page.wait_for_selector(".opblock", timeout=30_000)
        operations = page.locator(".opblock").count()
        browser.close()

    assert operations >= 12
    assert external == []  # no CDN, nothing leaves the origin
    assert not [m for m in messages if "Content Security Policy" in m or m.startswith("error")]
