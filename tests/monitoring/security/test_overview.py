"""The admin's landing page reads the database: every worker shows the same figures, plotted
as inline SVG, at a number of queries that does not grow with the data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from checkout.payments.services import charge_create
from monitoring.audit.services import audit_record
from monitoring.observability.context import request_id_var
from monitoring.security.engine import signal_record
from monitoring.security.models import SecurityAlert
from monitoring.security.overview import overview_build
from monitoring.security.rules import Signal
from tests.cards import load_cards
from tests.factories import TokenFactory
from tests.monitoring.security.test_engine_e2e import approved_number, declined_numbers
from tests.monitoring.support import monitoring_counters_reset, otp_verified_login
from vault.envelope import data_keys
from vault.models import Merchant

pytestmark = pytest.mark.django_db

DECLINES = {card["failure_code"]: card["number"] for card in load_cards()["decline"]}


@pytest.fixture(autouse=True)
def _fresh_data_keys() -> Iterator[None]:
    data_keys.clear()
    yield
    data_keys.clear()


def _activity(merchant: Merchant) -> None:
    """3 tokens, 4 charges (2 declined: two codes), 2 refusals, 1 alert."""
    approved = TokenFactory.create(merchant=merchant)
    for _ in range(2):
        charge_create(merchant=merchant, token_id=approved.id, amount=100, currency="EUR")
    for code in ("insufficient_funds", "stolen_card"):
        token = TokenFactory.create(merchant=merchant, number=DECLINES[code])
        charge_create(merchant=merchant, token_id=token.id, amount=100, currency="EUR")
    audit_record(action="card.ingest", outcome="denied", reason="bad_signature")
    audit_record(action="checkout.attempt", outcome="denied", reason="invalid_expiry")
    signal_record(Signal.JTI_REPLAYED, ip="203.0.113.9")


def test_every_worker_shows_what_the_database_holds(
    admin_client: Client, merchant: Merchant
) -> None:
    # given activity, and then a worker whose own counters saw none of it
    _activity(merchant)
    monitoring_counters_reset()

    response = admin_client.get(reverse("admin:index"), {"mode": "test"})

    o = response.context["o"]
    assert (o.tokenized, o.charges, o.declined, o.refused, o.alerts, o.open_alerts) == (
        3,
        4,
        2,
        2,
        1,
        1,
    )
    assert o.decline_rate == 50.0
    assert dict(o.declines) == {"insufficient_funds": 1, "stolen_card": 1}
    assert dict(o.refusals) == {"bad_signature": 1, "invalid_expiry": 1}
    assert o.alerts_by_rule == [("jwt.replay", 1)]
    page = response.content.decode()
    # the landing page: the plots, then the apps
    for title in (
        "Decline rate per hour",
        "Refusals per hour",
        "Alerts per hour",
        "Top decline codes",
    ):
        assert f"<strong>{title}</strong>" in page
    assert page.index("Decline rate per hour") < page.index('id="content-main"')
    assert "50.0 %" in page
    assert "1 decline of 2 charges" not in page  # the declines were in one hour with 4 charges
    assert "2 declines of 4 charges (50 %)" in page
    assert "<title>insufficient_funds: 1</title>" in page
    assert "Sign-in lockouts" in page


def test_a_page_refusal_the_vault_made_is_counted_once() -> None:
    token = request_id_var.set("req-1")
    try:
        audit_record(action="card.ingest", outcome="denied", reason="invalid_number")
        audit_record(action="checkout.attempt", outcome="denied", reason="invalid_number")
    finally:
        request_id_var.reset(token)
    audit_record(action="checkout.attempt", outcome="success")

    assert overview_build(livemode=False).refusals == [("invalid_number", 1)]


def test_hours_are_placed_on_the_plot_and_old_rows_left_out(merchant: Merchant) -> None:
    now = datetime.now(UTC)
    SecurityAlert.objects.create(
        rule="r.old",
        scope="ip",
        source="a",
        window_start=now - timedelta(hours=30),
        raised_at=now - timedelta(hours=30),
        observed=1,
        threshold=1,
        severity="warning",
    )
    SecurityAlert.objects.create(
        rule="r.new",
        scope="ip",
        source="b",
        window_start=now - timedelta(hours=2),
        raised_at=now - timedelta(hours=2),
        observed=1,
        threshold=1,
        severity="warning",
    )

    o = overview_build(livemode=False, now=now)

    assert o.alerts_by_rule == [("r.new", 1)]
    (alerts,) = [c for c in o.charts if c.slug == "alerts"]
    (bar,) = alerts.bars
    hour = (now - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    assert bar.title == f"{hour:%H:00}–{hour + timedelta(hours=1):%H:00} UTC: 1 alert"
    # 24 slots left to right: two hours ago is the 22nd
    assert bar.x == pytest.approx(
        44 + 21 * (720 - 44 - 8) / 24 + (720 - 44 - 8) / 24 * 0.15, abs=0.01
    )


def test_empty_day_says_so_instead_of_plotting_nothing() -> None:
    o = overview_build(livemode=False)

    assert o.decline_rate is None
    assert all(not chart.bars for chart in o.charts)
    assert all(any(label.text.startswith("No") for label in chart.labels) for chart in o.charts)


def _queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("admin:index")).status_code == 200
    return len(captured)


def test_query_count_does_not_grow_with_the_data(admin_client: Client, merchant: Merchant) -> None:
    with CaptureQueriesContext(connection) as built:
        overview_build(livemode=False)
    empty = _queries(admin_client)
    _activity(merchant)
    _activity(merchant)

    with CaptureQueriesContext(connection) as built_full:
        overview_build(livemode=False)
    full = _queries(admin_client)

    # one query per series (tokens, charges, refusals, alerts) and the open-alert count
    assert len(built.captured_queries) == len(built_full.captured_queries) == 5
    assert full == empty


def test_staff_who_may_not_see_alerts_get_the_plain_index(
    django_user_model: Any, client: Client
) -> None:
    clerk = django_user_model.objects.create_user("clerk", password="x" * 20, is_staff=True)
    otp_verified_login(client, clerk)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert "o" not in response.context
    assert "Decline rate per hour" not in response.content.decode()


def test_an_hour_of_charges_without_declines_plots_0_percent(merchant: Merchant) -> None:
    token = TokenFactory.create(merchant=merchant)
    charge_create(merchant=merchant, token_id=token.id, amount=100, currency="EUR")

    o = overview_build(livemode=False)

    (rate,) = [c for c in o.charts if c.slug == "decline-rate"]
    (bar,) = rate.bars
    assert bar.title.endswith(": 0 declines of 1 charge (0 %)")
    assert bar.height == 1.0
    assert not any(label.text.startswith("Nothing") for label in rate.labels)
    assert o.decline_rate == 0.0


# --- one mode at a time: test activity never shows in live figures, nor live in test ones ---


def _live_activity(merchant: Merchant) -> None:
    """In live mode (the suite's live processor): 2 tokens, 3 charges, 1 declined."""
    live = merchant.in_mode(True)
    approved = TokenFactory.create(merchant=live, number=approved_number(seed=3))
    (declined_number,) = declined_numbers(1, seed=3)
    declined = TokenFactory.create(merchant=live, number=declined_number)
    for _ in range(2):
        charge_create(merchant=live, token_id=approved.id, amount=100, currency="EUR")
    charge_create(merchant=live, token_id=declined.id, amount=100, currency="EUR")


def _test_activity(merchant: Merchant) -> None:
    """In test mode: 1 token, 1 approved charge."""
    token = TokenFactory.create(merchant=merchant.in_mode(False))
    charge_create(merchant=merchant.in_mode(False), token_id=token.id, amount=100, currency="EUR")


def test_live_figures_leave_out_test_activity_and_test_figures_leave_out_live(
    merchant: Merchant,
) -> None:
    _live_activity(merchant)
    _test_activity(merchant)

    live, test = overview_build(livemode=True), overview_build(livemode=False)

    assert (live.livemode, live.tokenized, live.charges, live.declined) == (True, 2, 3, 1)
    assert dict(live.declines) == {"card_declined": 1}
    assert (test.livemode, test.tokenized, test.charges, test.declined) == (False, 1, 1, 0)
    assert test.declines == []
    (live_rate,) = [c for c in live.charts if c.slug == "decline-rate"]
    (test_rate,) = [c for c in test.charts if c.slug == "decline-rate"]
    assert live_rate.bars[0].title.endswith(": 1 decline of 3 charges (33 %)")
    assert test_rate.bars[0].title.endswith(": 0 declines of 1 charge (0 %)")


def test_the_landing_page_switches_mode_and_says_which_it_shows(
    admin_client: Client, merchant: Merchant
) -> None:
    _live_activity(merchant)
    _test_activity(merchant)
    url = reverse("admin:index")

    live = admin_client.get(url, {"mode": "live"})
    test = admin_client.get(url, {"mode": "test"})

    live_page, test_page = live.content.decode(), test.content.decode()
    assert (live.context["o"].charges, test.context["o"].charges) == (3, 1)
    assert '<span id="figure-charges"><strong>3</strong> live charges</span>' in live_page
    assert '<span id="figure-charges"><strong>1</strong> test charges</span>' in test_page
    assert '<a href="?mode=live" id="overview-mode-live" aria-current="page">' in live_page
    assert '<a href="?mode=test" id="overview-mode-test" aria-current="page">' in test_page
    assert '<span class="overview-mode-badge">Test mode</span>' in test_page
    assert "overview-mode-badge" not in live_page
    assert "refusals (both modes)" in live_page and "refusals (both modes)" in test_page


@pytest.mark.parametrize(
    ("processor_live", "mode", "shown_live"),
    [
        ("", None, False),  # live mode unavailable: the test activity is what there is
        ("tests.support.processors.LiveTestProcessor", None, True),
        ("", "live", True),
        ("tests.support.processors.LiveTestProcessor", "test", False),
        ("tests.support.processors.LiveTestProcessor", "bogus", True),
    ],
)
def test_the_landing_page_opens_on_live_where_live_mode_can_take_payments(
    admin_client: Client, processor_live: str, mode: str | None, shown_live: bool
) -> None:
    with override_settings(PROCESSOR_LIVE=processor_live):
        response = admin_client.get(reverse("admin:index"), {"mode": mode} if mode else {})

    assert response.status_code == 200
    assert response.context["o"].livemode is shown_live
