"""docs/screenshots.md shows every state the browser test photographs, and nothing else."""

from __future__ import annotations

import re

from tests.checkout.sessions.test_views_screenshots import DOCS, SCREENSHOTS


def test_the_docs_show_each_screenshot_the_browser_test_makes() -> None:
    page = (DOCS.parent / "screenshots.md").read_text()

    shown = re.findall(r'<img src="screenshots/([^"]+)\.png" alt="([^"]+)"', page)

    assert dict(shown) == SCREENSHOTS
    assert {p.stem for p in DOCS.glob("*.png")} == set(SCREENSHOTS)
