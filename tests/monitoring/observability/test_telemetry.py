"""Telemetry without secrets: Sentry events scrubbed of card data (checked on what the SDK
would send, through a local capturing transport), and safe Prometheus metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from django.test import Client
from prometheus_client import multiprocess

from monitoring.observability import metrics, telemetry
from monitoring.security.engine import signal_record
from monitoring.security.rules import Signal
from payments_site import gunicorn_conf
from tests.cards import load_cards
from tests.monitoring.support import CapturingTransport

# sentry-sdk 2.x deprecates send_default_pii for data_collection, but data_collection turns the
# EventScrubber off; we keep both the explicit opt-out and the scrubber.
pytestmark = pytest.mark.filterwarnings("ignore:The send_default_pii option is deprecated")

CARDS = load_cards()
NUMBERS = [c["number"] for c in CARDS["approve"] + CARDS["decline"]]
CVC = "9817"


@pytest.fixture
def sentry() -> Iterator[list[dict[str, Any]]]:
    CapturingTransport.sent = []
    telemetry.sentry_init(dsn="https://public@sentry.invalid/1", transport=CapturingTransport)
    try:
        yield CapturingTransport.sent
    finally:
        sentry_sdk.flush()
        sentry_sdk.init()  # no DSN: inactive again for other tests


def _spaced(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


@pytest.mark.urls("tests.monitoring.error_urls")
@pytest.mark.parametrize("number", NUMBERS)
@pytest.mark.django_db
def test_sentry_events_carry_no_card_number_or_cvc(
    sentry: list[dict[str, Any]], number: str
) -> None:
    # when a view holding card data in its body, locals, log breadcrumb and message fails
    response = Client(raise_request_exception=False).post(
        "/boom", {"number": number, "cvc": CVC, "exp_month": "12"}
    )
    sentry_sdk.flush()

    # then Sentry got the error, but not the card
    assert response.status_code == 500
    events = [e for e in sentry if e.get("exception")]
    assert events, "the error was not reported"
    sent = json.dumps(sentry)
    assert number not in sent
    assert _spaced(number) not in sent
    # (as a number of its own: the same digits inside a timestamp are not the CVC)
    assert re.search(rf"(?<![0-9]){CVC}(?![0-9])", sent) is None
    event = events[0]
    message = event["exception"]["values"][-1]["value"]
    assert "[REDACTED-PAN]" in message
    frame = event["exception"]["values"][-1]["stacktrace"]["frames"][-1]
    assert frame["function"] == "card_error"
    assert frame["vars"]["number"] != number and frame["vars"]["cvc"] != CVC
    crumbs = [c.get("message", "") for c in event["breadcrumbs"]["values"]]
    assert any("charging card [REDACTED-PAN]" in c for c in crumbs)
    # and nothing personal was attached
    assert "cookies" not in event.get("request", {})
    assert "user" not in event or "ip_address" not in event["user"]


@pytest.mark.django_db
def test_a_scrubber_failure_drops_the_event(
    sentry: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(value: Any) -> Any:
        raise RuntimeError("scrubber bug")

    monkeypatch.setattr(telemetry, "redact", broken)

    sentry_sdk.capture_message("card 4242424242424242")
    sentry_sdk.flush()

    assert [e for e in sentry if e.get("message") or e.get("logentry")] == []


@pytest.mark.django_db
def test_security_alerts_are_reported_to_sentry(sentry: list[dict[str, Any]]) -> None:
    signal_record(Signal.JTI_REPLAYED, ip="203.0.113.4")
    sentry_sdk.flush()

    alerts = [e for e in sentry if e.get("tags", {}).get("security_alert.rule") == "jwt.replay"]
    assert len(alerts) == 1
    assert alerts[0]["level"] == "critical"


# --- Prometheus -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("invalid_number", "invalid_number"),
        ("Expired_Card", "expired_card"),
        ("4242424242424242", "other"),
        ("card 4242", "other"),
        ("x" * 65, "other"),
        ("tok_123456789", "other"),
    ],
)
def test_metric_labels_are_short_codes_only(value: str, expected: str) -> None:
    assert metrics.label(value) == expected


@pytest.mark.django_db
def test_metrics_endpoint_needs_the_bearer_token(settings: Any) -> None:
    settings.METRICS_BEARER_TOKEN = "s3cret-scrape-token"
    client = Client()
    metrics.refusal_inc(reason="invalid_cvc")

    missing = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    right = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")

    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert b'tessera_refusals_total{reason="invalid_cvc"}' in right.content


@pytest.mark.django_db
def test_metrics_endpoint_does_not_exist_without_a_token(settings: Any) -> None:
    settings.METRICS_BEARER_TOKEN = ""

    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_timers_observe_latency_even_when_the_call_fails() -> None:
    before = metrics.KMS_SECONDS.labels(operation="decrypt")._sum.get()

    with pytest.raises(TimeoutError), metrics.kms_timer(operation="decrypt"):
        raise TimeoutError

    after = metrics.KMS_SECONDS.labels(operation="decrypt")._sum.get()
    assert after > before


def test_gunicorn_hooks_reset_the_directory_and_forget_dead_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_111.db").write_bytes(b"stale")
    (tmp_path / "gauge_livesum_222.db").write_bytes(b"live")
    (tmp_path / "keep.txt").write_text("not ours")

    gunicorn_conf.on_starting(object())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]

    (tmp_path / "gauge_livesum_222.db").write_bytes(b"live")
    (tmp_path / "counter_222.db").write_bytes(b"total")
    gunicorn_conf.child_exit(object(), type("Worker", (), {"pid": 222})())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_222.db", "keep.txt"]
    assert multiprocess  # the hook uses prometheus_client's own bookkeeping
