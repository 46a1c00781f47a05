"""The admin as an operator sees it, in Debian's Chromium at 1,400 px: every list shows all
its columns without scrolling sideways, and the landing page draws its plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Browser

from checkout.payments.services import charge_create
from checkout.sessions.services import checkout_session_create
from monitoring.audit.services import audit_record
from monitoring.security.engine import signal_record
from monitoring.security.rules import Signal
from tests.checkout.sessions.test_views_browser import (  # noqa: F401  (fixtures)
    artifacts,
    browser,
    server,
)
from tests.factories import TokenFactory
from tests.monitoring.support import otp_verified_login
from tests.support.servers import RunningServer
from vault.merchants import api_key_create
from vault.models import Merchant

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 1400
LISTS = [
    "vault_token",
    "vault_apikey",
    "monitoring_securityalert",
    "monitoring_auditevent",
    "checkout_charge",
    "checkout_checkoutsession",
]


def _some_of_everything(merchant: Merchant) -> None:
    api_key_create(merchant=merchant, mode="test", label="shop backend")
    token = TokenFactory.create(merchant=merchant)
    charge_create(merchant=merchant, token_id=token.id, amount=4900, currency="EUR")
    checkout_session_create(
        merchant=merchant,
        mode="payment",
        amount=4900,
        currency="EUR",
        success_url="https://shop.example/thanks",
        cancel_url="https://shop.example/cart",
    )
    audit_record(
        action="token.revoke", actor="admin:someone", object_type="token", object_id=token.id
    )
    signal_record(Signal.JTI_REPLAYED, ip="203.0.113.9")


def test_lists_fit_1400px_and_the_landing_page_plots(
    browser: Browser,  # noqa: F811
    server: RunningServer,  # noqa: F811
    artifacts: Path,  # noqa: F811
    merchant: Merchant,
    admin_user: Any,
) -> None:
    _some_of_everything(merchant)
    logged_in = otp_verified_login(Client(), admin_user)
    cookie = logged_in.cookies[settings.SESSION_COOKIE_NAME].value
    shots = artifacts / "admin"
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        ignore_https_errors=True, viewport={"width": WIDTH, "height": 900}, locale="en-US"
    )
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.url}]
    )
    page = context.new_page()
    try:
        page.goto(f"{server.url}{reverse('admin:index')}")
        assert page.locator("figure.overview-plot svg").count() == 4
        page.screenshot(path=str(shots / "landing.png"), full_page=True)
        failures: list[str] = []
        for name in LISTS:
            page.goto(f"{server.url}{reverse(f'admin:{name}_changelist')}")
            table = page.locator("#result_list")
            assert table.count() == 1, name
            box = table.bounding_box()
            assert box is not None
            wrapper = page.evaluate(
                "(() => { const w = document.querySelector('.results');"
                " return [w.scrollWidth, w.clientWidth]; })()"
            )
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            failures.extend(
                [name] if box["x"] + box["width"] > WIDTH or wrapper[0] > wrapper[1] else []
            )
        assert failures == []
    finally:
        context.close()
