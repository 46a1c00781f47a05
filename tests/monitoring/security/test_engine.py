"""The anomaly engine at its API: signals in, alerts and cool-offs out (ARCHITECTURE §5: card
testing is detected, alerted and slowed)."""

from __future__ import annotations

import ast
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from monitoring.audit.models import AuditEvent
from monitoring.security import cooloff, engine
from monitoring.security import rules as anomaly_rules
from monitoring.security.cooloff import SourceCoolingOff, cooloff_check, cooloff_enforce
from monitoring.security.counters import Op, counter_store
from monitoring.security.engine import signal_record, stats_last_hours
from monitoring.security.http import CooloffThrottle, cooloff_guard
from monitoring.security.models import SecurityAlert
from monitoring.security.rules import Signal
from payments_site.problems import problem_of

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.66"
SHOPPER = "198.51.100.23"
MERCHANT = "mer_demo"
T0 = 1_900_000_020.0  # 20 s into a 10-minute window


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Freeze the engine's clock at T0; call the fixture's value to move it."""
    state = {"now": T0}
    for module in (engine, cooloff):  # counting and cooling off keep one clock
        monkeypatch.setattr(module, "_now", lambda: state["now"])

    def move(seconds: float) -> None:
        state["now"] += seconds

    return move


def fingerprint() -> str:
    return "fp_" + secrets.token_hex(16)


def checkout_attempt(*, ip: str, session: str, fp: str, declined: bool) -> int:
    """What the checkout and charges code will do per card submission, in order."""
    if cooloff_check(ip=ip, session_id=session) is not None:
        return 429
    signal_record(
        Signal.CARD_SUBMITTED, ip=ip, merchant_id=MERCHANT, session_id=session, fingerprint=fp
    )
    if declined:
        signal_record(
            Signal.CHARGE_DECLINED,
            ip=ip,
            merchant_id=MERCHANT,
            session_id=session,
            fingerprint=fp,
            reason="card_declined",
        )
        return 402
    signal_record(Signal.TOKENIZED, ip=ip, merchant_id=MERCHANT, session_id=session)
    signal_record(Signal.CHARGE_SUCCEEDED, ip=ip, merchant_id=MERCHANT, fingerprint=fp)
    return 200


def test_card_testing_run_raises_one_alert_then_throttles_and_spares_other_shoppers(
    clock: Callable[[float], None],
) -> None:
    # given 60 attempts in one minute from one address, each a new card, declined, spread
    # over fresh checkout sessions, interleaved with a normal shopper on another address
    results = []
    shopper = []
    for n in range(60):
        results.append(
            checkout_attempt(ip=ATTACKER, session=f"cs_{n}", fp=fingerprint(), declined=True)
        )
        if n % 20 == 0:
            shopper.append(
                checkout_attempt(ip=SHOPPER, session="cs_shopper", fp=fingerprint(), declined=False)
            )
        clock(1)

    # then exactly one alert names the attacker's address, and the rest were throttled
    alerts = list(SecurityAlert.objects.all())
    assert [(a.rule, a.scope, a.source) for a in alerts] == [
        ("card_testing.distinct_cards.ip", "ip", ATTACKER)
    ]
    first_throttled = results.index(429)
    assert results[:first_throttled] == [402] * 8
    assert results[first_throttled:] == [429] * (60 - first_throttled)
    # and the shopper on another address went through every time
    assert shopper == [200, 200, 200]
    assert cooloff_check(ip=SHOPPER, session_id="cs_shopper") is None
    cooloff = cooloff_check(ip=ATTACKER)
    assert cooloff is not None
    assert 1740 <= cooloff.retry_after <= 1800


def test_the_alert_is_logged_audited_and_counted(
    clock: Callable[[float], None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="monitoring.security.engine")

    for _ in range(8):
        signal_record(Signal.CARD_SUBMITTED, ip=ATTACKER, fingerprint=fingerprint())

    alert = SecurityAlert.objects.get()
    record = next(r for r in caplog.records if r.getMessage() == "security_alert")
    assert record.rule == "card_testing.distinct_cards.ip"  # type: ignore[attr-defined]
    assert record.source == ATTACKER  # type: ignore[attr-defined]
    assert alert.severity == "critical"
    assert alert.observed == 8
    assert alert.cooloff_until is not None
    assert AuditEvent.objects.filter(
        action="security_alert.raise", object_id=str(alert.pk)
    ).exists()


def test_cool_off_ends_and_a_new_run_raises_a_new_alert(clock: Callable[[float], None]) -> None:
    for _ in range(8):
        signal_record(Signal.CARD_SUBMITTED, ip=ATTACKER, fingerprint=fingerprint())
    assert cooloff_check(ip=ATTACKER) is not None

    clock(1801)

    assert cooloff_check(ip=ATTACKER) is None
    for _ in range(8):
        signal_record(Signal.CARD_SUBMITTED, ip=ATTACKER, fingerprint=fingerprint())
    assert SecurityAlert.objects.filter(source=ATTACKER).count() == 2


def test_the_same_card_retried_is_not_card_testing(clock: Callable[[float], None]) -> None:
    fp = fingerprint()

    for _ in range(7):
        signal_record(Signal.CARD_SUBMITTED, ip=SHOPPER, session_id="cs_1", fingerprint=fp)

    assert not SecurityAlert.objects.exists()


def test_a_burst_straddling_a_window_edge_is_seen_whole(clock: Callable[[float], None]) -> None:
    # given five cards just before a window boundary and five just after
    clock(600 - 20 - 5)  # 5 s before the next 10-minute boundary
    for _ in range(5):
        signal_record(Signal.CARD_SUBMITTED, ip=ATTACKER, fingerprint=fingerprint())
    clock(10)
    for _ in range(3):
        signal_record(Signal.CARD_SUBMITTED, ip=ATTACKER, fingerprint=fingerprint())

    # then the sliding estimate sees eight
    assert SecurityAlert.objects.get().rule == "card_testing.distinct_cards.ip"


def test_failed_validations_from_one_session_cool_that_session_off(
    clock: Callable[[float], None],
) -> None:
    for n in range(6):
        signal_record(
            Signal.CARD_INVALID, ip=f"192.0.2.{n}", session_id="cs_x", reason="invalid_cvc"
        )

    alert = SecurityAlert.objects.get()
    assert (alert.rule, alert.scope, alert.source) == (
        "card_testing.failures.session",
        "session",
        "cs_x",
    )
    assert cooloff_check(session_id="cs_x") is not None
    assert cooloff_check(ip="192.0.2.1") is None


def test_repeated_declines_of_one_card_cool_the_fingerprint_off(
    clock: Callable[[float], None],
) -> None:
    fp = fingerprint()
    for n in range(5):
        signal_record(
            Signal.CHARGE_DECLINED, ip=f"192.0.2.{n}", fingerprint=fp, reason="do_not_honor"
        )

    alert = SecurityAlert.objects.get()
    assert (alert.rule, alert.source) == ("declines.fingerprint", fp)
    assert cooloff_check(fingerprint=fp) is not None


def test_a_merchant_decline_ratio_jump_alerts_without_cooling_the_merchant(
    clock: Callable[[float], None],
) -> None:
    # given a quiet previous window: 40 charges, 10 % declined
    for n in range(40):
        kind = Signal.CHARGE_DECLINED if n % 10 == 0 else Signal.CHARGE_SUCCEEDED
        signal_record(kind, merchant_id=MERCHANT)
    clock(900)

    # when the decline ratio jumps to 75 %
    for n in range(40):
        kind = Signal.CHARGE_SUCCEEDED if n % 4 == 0 else Signal.CHARGE_DECLINED
        signal_record(kind, merchant_id=MERCHANT)

    alert = SecurityAlert.objects.get(rule="declines.merchant_ratio")
    assert alert.source == MERCHANT
    assert alert.observed >= 0.5
    assert alert.cooloff_until is None
    assert cooloff_check(merchant_id=MERCHANT) is None


def test_a_steadily_high_decline_ratio_is_not_a_jump(clock: Callable[[float], None]) -> None:
    # given a merchant whose first window (no history) already alerted
    windows = []
    for _ in range(3):
        for n in range(40):
            kind = Signal.CHARGE_SUCCEEDED if n % 4 == 0 else Signal.CHARGE_DECLINED
            signal_record(kind, merchant_id="mer_high_risk")
        windows.append(SecurityAlert.objects.filter(rule="declines.merchant_ratio").count())
        clock(900)

    # then the same ratio in the following windows is no news
    assert windows == [1, 1, 1]


def test_a_burst_of_jwt_rejections_alerts_and_a_few_do_not(clock: Callable[[float], None]) -> None:
    for _ in range(19):
        signal_record(Signal.JWT_REJECTED, ip=SHOPPER, reason="expired")
    assert not SecurityAlert.objects.exists()

    signal_record(Signal.JWT_REJECTED, ip=SHOPPER, reason="bad_signature")

    assert SecurityAlert.objects.get().rule == "jwt.rejections.ip"
    assert cooloff_check(ip=SHOPPER) is not None


def test_any_replayed_jti_alerts_at_once(clock: Callable[[float], None]) -> None:
    alerts = signal_record(Signal.JTI_REPLAYED, ip=ATTACKER, session_id="cs_9")

    assert [a.rule for a in alerts] == ["jwt.replay"]
    assert alerts[0].severity == "critical"
    assert alerts[0].detail["related"] == {"session": "cs_9"}
    assert cooloff_check(ip=ATTACKER) is not None


def test_one_alert_per_rule_source_and_window_even_if_the_cache_flag_is_lost(
    clock: Callable[[float], None], settings: Any
) -> None:
    settings.ANOMALY_RULES = {"card_testing.distinct_cards.merchant": {"threshold": 3}}
    for _ in range(3):
        signal_record(Signal.CARD_SUBMITTED, merchant_id=MERCHANT, fingerprint=fingerprint())
    assert SecurityAlert.objects.count() == 1

    # when the de-duplication flag disappears (a Redis failover) and the rule fires again
    index = int(T0 // 600)
    counter_store().delete(f"fired:card_testing.distinct_cards.merchant:{MERCHANT}:{index}")
    signal_record(Signal.CARD_SUBMITTED, merchant_id=MERCHANT, fingerprint=fingerprint())

    # then the database constraint still keeps it to one
    assert SecurityAlert.objects.count() == 1


def test_merchant_wide_rules_fire_once_per_window(
    clock: Callable[[float], None], settings: Any
) -> None:
    settings.ANOMALY_RULES = {"card_testing.distinct_cards.merchant": {"threshold": 3}}

    for _ in range(10):
        signal_record(Signal.CARD_SUBMITTED, merchant_id=MERCHANT, fingerprint=fingerprint())
    clock(1200)
    for _ in range(10):
        signal_record(Signal.CARD_SUBMITTED, merchant_id=MERCHANT, fingerprint=fingerprint())

    assert SecurityAlert.objects.filter(scope="merchant").count() == 2


def test_thresholds_come_from_settings_and_rules_can_be_switched_off(
    clock: Callable[[float], None], settings: Any
) -> None:
    settings.ANOMALY_RULES = {"jwt.rejections.ip": {"threshold": 3}, "jwt.replay": None}

    signal_record(Signal.JTI_REPLAYED, ip=ATTACKER)
    for _ in range(3):
        signal_record(Signal.JWT_REJECTED, ip=SHOPPER)

    assert [a.rule for a in SecurityAlert.objects.all()] == ["jwt.rejections.ip"]


def test_cooloff_enforce_raises_a_429_problem_with_retry_after(
    clock: Callable[[float], None],
) -> None:
    signal_record(Signal.JTI_REPLAYED, ip=ATTACKER)

    with pytest.raises(SourceCoolingOff) as raised:
        cooloff_enforce(ip=ATTACKER, session_id="cs_other")

    assert problem_of(raised.value).status == 429
    assert raised.value.retry_after == 3600
    assert "60 minutes" in raised.value.message
    cooloff_enforce(ip=SHOPPER)  # another address passes


def _page(request: HttpRequest, session_id: str) -> HttpResponse:
    return HttpResponse("the checkout page")


def test_cooloff_guard_answers_a_friendly_page_then_lets_others_through(
    clock: Callable[[float], None],
) -> None:
    guarded = cooloff_guard(session_kwarg="session_id")(_page)
    signal_record(Signal.JTI_REPLAYED, ip=ATTACKER)
    factory = RequestFactory()

    blocked = guarded(factory.get("/checkout/cs_1/", REMOTE_ADDR=ATTACKER), session_id="cs_1")
    blocked.render()  # type: ignore[attr-defined]
    served = guarded(factory.get("/checkout/cs_2/", REMOTE_ADDR=SHOPPER), session_id="cs_2")

    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "3600"
    assert b"Please wait a moment" in blocked.content
    assert b"<script" not in blocked.content
    assert served.status_code == 200


def test_cooloff_guard_answers_problem_json_on_api_paths(clock: Callable[[float], None]) -> None:
    guarded = cooloff_guard()(_page)
    signal_record(Signal.JTI_REPLAYED, ip=ATTACKER)

    response = guarded(
        RequestFactory().post("/vault/v1/cards", REMOTE_ADDR=ATTACKER), session_id=""
    )

    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "3600"


def test_hourly_figures_for_the_overview(clock: Callable[[float], None]) -> None:
    signal_record(Signal.TOKENIZED, ip=SHOPPER)
    signal_record(Signal.CARD_INVALID, ip=SHOPPER, reason="invalid_number")
    signal_record(Signal.CARD_INVALID, ip=SHOPPER, reason="invalid_number")
    signal_record(Signal.CARD_INVALID, ip=SHOPPER, reason="expired_card")
    clock(3600)
    signal_record(Signal.CHARGE_DECLINED, fingerprint=fingerprint(), reason="insufficient_funds")

    hours = stats_last_hours(hours=24)

    assert len(hours) == 24
    assert hours[-2].counts["tokenized"] == 1
    assert hours[-2].reasons["card_invalid"] == {"expired_card": 1, "invalid_number": 2}
    assert hours[-1].reasons["charge_declined"] == {"insufficient_funds": 1}
    assert sum(h.counts["card_invalid"] for h in hours) == 3


def test_an_event_of_several_signals_is_one_batch_and_counts_as_each(
    clock: Callable[[float], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = counter_store()
    batches: list[int] = []
    batch = store.batch

    def counting_batch(ops: list[Op]) -> list[int]:
        batches.append(len(ops))
        return batch(ops)

    monkeypatch.setattr(store, "batch", counting_batch)

    # a card-testing run reported as "submitted and tokenized" events, one call each
    alerts = [
        signal_record(
            [Signal.CARD_SUBMITTED, Signal.TOKENIZED],
            ip=ATTACKER,
            merchant_id=MERCHANT,
            session_id=f"cs_{n}",
            fingerprint=fingerprint(),
        )
        for n in range(8)
    ]

    # one store round trip per event, not one per signal
    assert len(batches) == 8
    assert all(size == batches[0] for size in batches)
    hour = stats_last_hours(hours=1)[-1]
    assert (hour.counts["card_submitted"], hour.counts["tokenized"]) == (8, 8)
    # and the rules see the submissions exactly as from separate calls: the 8th card alerts
    assert [len(a) for a in alerts] == [0] * 7 + [1]
    assert alerts[-1][0].rule == "card_testing.distinct_cards.ip"


def test_monitoring_imports_neither_the_vault_nor_the_checkout() -> None:
    root = Path(__file__).resolve().parents[3] / "monitoring"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in {"vault", "checkout"}
            ]

    assert offenders == []


class _ChargesLikeApi(APIView):
    throttle_classes = [CooloffThrottle]
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    def post(self, request: Request) -> Response:
        return Response({"ok": True})


def test_the_drf_throttle_answers_problem_json_429_with_retry_after(
    clock: Callable[[float], None],
) -> None:
    signal_record(Signal.JTI_REPLAYED, ip=ATTACKER)
    view = _ChargesLikeApi.as_view()
    factory = APIRequestFactory()

    blocked = view(factory.post("/api/v1/charges", {}, REMOTE_ADDR=ATTACKER))
    served = view(factory.post("/api/v1/charges", {}, REMOTE_ADDR=SHOPPER))

    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "3600"
    assert blocked.data["code"] == "too_many_attempts"
    assert served.status_code == 200


def test_a_client_decline_run_straddling_a_window_edge_is_seen_whole(
    clock: Callable[[float], None],
) -> None:
    # given an API client whose declines begin two seconds before a 10-minute window ends
    source = anomaly_rules.api_client_source(merchant_id=MERCHANT, ip="203.0.113.9")
    clock(600 - T0 % 600 - 2)
    for _ in range(12):
        signal_record(Signal.CHARGE_DECLINED, merchant_id=MERCHANT, client=source)
    clock(3)

    # when nine more come in the first second of the next window
    for _ in range(9):
        signal_record(Signal.CHARGE_DECLINED, merchant_id=MERCHANT, client=source)

    # then the run is seen whole (the previous window's twelve weigh 599/600 each, so 20.98
    # attempts, all declined): the client cools off, though neither window alone has twenty
    alert = SecurityAlert.objects.get(rule="card_testing.declines.client")
    assert alert.source == source
    assert cooloff_check(client=source) is not None
