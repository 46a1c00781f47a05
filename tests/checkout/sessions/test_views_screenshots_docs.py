"""docs/screenshots.md shows every state the browser test photographs, and nothing else, and
among them each state the page must be seen in."""

from __future__ import annotations

import re

from tests.checkout.sessions.test_views_screenshots import DOCS, SCREENSHOTS, STATES


def test_the_docs_show_each_screenshot_the_browser_test_makes() -> None:
    page = (DOCS.parent / "screenshots.md").read_text()

    shown = re.findall(r'<img src="screenshots/([^"]+)\.png" alt="([^"]+)"', page)

    assert dict(shown) == SCREENSHOTS
    assert {p.stem for p in DOCS.glob("*.png")} == set(SCREENSHOTS)


def test_each_state_of_the_page_has_its_picture_in_the_docs() -> None:
    page = (DOCS.parent / "screenshots.md").read_text()
    shown = dict(re.findall(r'<img src="screenshots/([^"]+)\.png" alt="([^"]+)"', page))

    assert set(STATES) == {
        "empty", "errors", "declined", "success", "test mode", "320 px", "no JavaScript"
    }  # fmt: skip
    assert {state: name in shown for state, name in STATES.items()} == dict.fromkeys(STATES, True)
    assert all((DOCS / f"{name}.png").is_file() for name in STATES.values())
