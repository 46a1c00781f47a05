"""Delivery to real HTTP(S) receivers on 127.0.0.1: signed, retried with backoff, bounded,
never redirected, pinned to the vetted address; the endpoint disabled (with an alert) after
three days of failures. Time is driven through ``CHECKOUT_CLOCK``, never slept."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from itertools import pairwise

import pytest
from django.db import connection
from pytest_django.fixtures import Settings as SettingsWrapper

from checkout.payments.services import charge_create
from checkout.webhooks.delivery import (
    ALERT_RULE,
    DeliveryNotResendable,
    deliveries_run,
    delivery_attempt,
    delivery_claim,
    delivery_resend,
    lease_seconds,
)
from checkout.webhooks.events import event_record
from checkout.webhooks.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from checkout.webhooks.services import (
    webhook_endpoint_create,
    webhook_endpoint_secret_roll,
    webhook_endpoint_update,
)
from checkout.webhooks.signature import verify_signature
from monitoring.audit.models import AuditEvent
from monitoring.security.models import SecurityAlert
from tests.checkout.webhooks.conftest import FakeDns, Hooked, SimClock, SocketGuard, TlsFiles
from tests.checkout.webhooks.receiver import Receiver, receiver_server, silent_listener
from vault.models import Merchant, Token


def _run_until_settled(clock: SimClock, *, max_passes: int = 60) -> list[dt.datetime]:
    """Run a pass at every next attempt time until nothing is pending; the pass times."""
    times = []
    for _ in range(max_passes):
        deliveries_run(now=clock.now)
        times.append(clock.now)
        pending = WebhookDelivery.objects.filter(status="pending").order_by("next_attempt_at")
        nxt = pending.values_list("next_attempt_at", flat=True).first()
        if nxt is None:
            return times
        clock.set(max(nxt, clock.now))
    raise AssertionError("deliveries did not settle")


@pytest.mark.django_db(transaction=True)
def test_a_delivery_is_the_event_signed_with_the_endpoint_secret(
    hooked: Hooked, merchant: Merchant, token: Token, clock: SimClock
) -> None:
    hooked.receiver.clock = clock.timestamp
    charge = charge_create(merchant=merchant, token_id=token.id, amount=1999, currency="EUR")
    event = Event.objects.get(object_id=charge.id)

    deliveries_run(now=clock.now)

    (received,) = hooked.receiver.requests
    assert received.status == 200 and received.verified_by == [0]
    assert received.path == "/hooks"
    assert received.body == event.payload.encode()
    assert json.loads(received.body)["data"]["object"]["id"] == charge.id
    header = received.headers["Tessera-Signature"]
    assert header.startswith(f"t={int(clock.timestamp())},v1=")
    assert header.count("v1=") == 1
    verify_signature(received.body, header, hooked.secret, now=clock.timestamp())
    assert received.headers["Tessera-Event-Id"] == event.id
    assert received.headers["Content-Type"] == "application/json; charset=utf-8"
    assert received.headers["User-Agent"].startswith("Tessera-Webhooks/")
    assert received.headers["Host"] == hooked.receiver.url.split("/")[2]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error, attempt.remote_address) == (200, "", "127.0.0.1")
    assert attempt.response_excerpt == '{"received": true}'
    hooked.endpoint.refresh_from_db()
    assert hooked.endpoint.last_success_at == clock.now


def test_three_500s_then_a_200_make_four_attempts_and_one_acceptance(
    hooked: Hooked, token: Token, clock: SimClock
) -> None:
    # given a receiver that fails three times, then accepts
    hooked.receiver.clock = clock.timestamp
    hooked.receiver.script[:] = [500, 500, 500, 200]
    start = clock.now
    event = event_record(event_type="token.revoked", obj=token)

    # when passes run whenever the next retry is due
    _run_until_settled(clock)

    # then four attempts are recorded, the event accepted once, with backoff in between
    attempts = list(WebhookAttempt.objects.order_by("sequence"))
    assert [(a.sequence, a.status_code, a.error) for a in attempts] == [
        (1, 500, "http_status"),
        (2, 500, "http_status"),
        (3, 500, "http_status"),
        (4, 200, ""),
    ]
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in pairwise(attempts)]
    for gap, expected in zip(gaps, [60, 120, 240], strict=True):  # ±20 % jitter
        assert 0.8 * expected <= gap <= 1.2 * expected
    accepted = hooked.receiver.accepted()
    assert [json.loads(r.body)["id"] for r in accepted] == [event.id]
    assert len(hooked.receiver.requests) == 4
    assert all(r.verified_by == [0] for r in hooked.receiver.requests)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 4)
    assert delivery.delivered_at is not None and delivery.delivered_at > start
    assert attempts[0].error_detail == "HTTP 500 Internal Server Error"


def test_a_receiver_that_never_answers_gets_its_endpoint_disabled_and_an_alert(
    merchant: Merchant, token: Token, clock: SimClock, settings: SettingsWrapper
) -> None:
    # given an endpoint on a port that accepts connections and never answers
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    with silent_listener() as url:
        endpoint, _ = webhook_endpoint_create(merchant=merchant, url=url, enabled_events=["*"])
        start = clock.now
        event_record(event_type="token.revoked", obj=token)

        # when retries run for as long as they go
        times = _run_until_settled(clock)

    # then every attempt timed out, for about three days, then gave up
    attempts = list(WebhookAttempt.objects.order_by("sequence"))
    assert {a.error for a in attempts} == {"timeout"}
    assert all(a.latency_ms < 2000 for a in attempts)
    span = attempts[-1].started_at - start
    assert dt.timedelta(days=2, hours=12) <= span <= dt.timedelta(days=3)
    assert len(attempts) == len(times) >= 12
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    # the endpoint is disabled and operations are alerted, once
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "delivery_failures")
    alert = SecurityAlert.objects.get(rule=ALERT_RULE)
    assert (alert.scope, alert.source, alert.severity) == ("merchant", merchant.pk, "warning")
    assert alert.detail["endpoint"] == endpoint.pk
    assert alert.detail["host"] == "127.0.0.1"
    assert alert.detail["last_error"] == "timeout"
    assert AuditEvent.objects.filter(
        action="webhook_endpoint.disable", object_id=endpoint.pk
    ).exists()
    # and new events are not queued for it any more
    event_record(event_type="token.revoked", obj=token)
    assert WebhookDelivery.objects.count() == 1


def test_an_endpoint_that_accepts_other_events_is_not_disabled_for_one_failing_event(
    hooked: Hooked, token: Token, clock: SimClock
) -> None:
    # given one event the receiver always refuses…
    hooked.receiver.clock = clock.timestamp
    failing = event_record(event_type="token.revoked", obj=token)
    hooked.receiver.failing_events.add(failing.id)
    deliveries_run(now=clock.now)
    # …while a later event is accepted within that one's retry window
    clock.advance(hours=30)
    event_record(event_type="token.revoked", obj=token)

    # when the failing delivery runs out of retries
    _run_until_settled(clock)

    # then it failed, but the endpoint stays enabled and nobody is alerted
    statuses = dict(WebhookDelivery.objects.values_list("event_id", "status"))
    assert statuses.pop(failing.id) == "failed"
    assert list(statuses.values()) == ["succeeded"]
    hooked.endpoint.refresh_from_db()
    assert hooked.endpoint.status == "enabled"
    assert not SecurityAlert.objects.filter(rule=ALERT_RULE).exists()


def test_a_rolled_secret_signs_with_new_and_old_for_24_hours_then_only_new(
    hooked: Hooked, merchant: Merchant, token: Token, clock: SimClock
) -> None:
    receiver = hooked.receiver
    receiver.clock = clock.timestamp
    _, new = webhook_endpoint_secret_roll(merchant=merchant, endpoint_id=hooked.endpoint.pk)
    receiver.secrets[:] = [new, hooked.secret]  # index 0: new, 1: old

    def deliver_one() -> tuple[str, list[int]]:
        event_record(event_type="token.revoked", obj=token)
        deliveries_run(now=clock.now)
        last = receiver.requests[-1]
        return last.headers["Tessera-Signature"], last.verified_by

    right_after = deliver_one()
    clock.advance(hours=23, minutes=59)
    a_day_later = deliver_one()
    clock.advance(minutes=2)
    after_overlap = deliver_one()

    assert right_after[0].count("v1=") == 2 and right_after[1] == [0, 1]
    assert a_day_later[0].count("v1=") == 2 and a_day_later[1] == [0, 1]
    assert after_overlap[0].count("v1=") == 1 and after_overlap[1] == [0]
    # the new secret's signature comes first
    t = int(clock.timestamp())
    verify_signature(receiver.requests[-1].body, after_overlap[0], new, now=t)


def test_redirects_are_not_followed(
    merchant: Merchant, token: Token, clock: SimClock, receiver: Receiver
) -> None:
    with receiver_server() as elsewhere:
        _, secret = webhook_endpoint_create(
            merchant=merchant, url=receiver.url, enabled_events=["*"]
        )
        receiver.secrets.append(secret)
        receiver.clock = clock.timestamp
        receiver.script[:] = [("redirect", elsewhere.url)]
        event_record(event_type="token.revoked", obj=token)

        deliveries_run(now=clock.now)

        assert elsewhere.requests == []
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (302, "http_status")
    assert WebhookDelivery.objects.get().status == "pending"


def test_an_endless_answer_is_read_to_64_kib_only(
    hooked: Hooked, token: Token, clock: SimClock
) -> None:
    hooked.receiver.clock = clock.timestamp
    hooked.receiver.script[:] = ["endless"]
    event_record(event_type="token.revoked", obj=token)

    deliveries_run(now=clock.now)

    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (200, "")
    assert attempt.response_excerpt == "x" * 500
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_a_refused_connection_is_a_failed_attempt(
    merchant: Merchant, token: Token, clock: SimClock
) -> None:
    with silent_listener() as url:
        pass  # closed again: nothing listens on that port now
    webhook_endpoint_create(merchant=merchant, url=url, enabled_events=["*"])
    event_record(event_type="token.revoked", obj=token)

    deliveries_run(now=clock.now)

    attempt = WebhookAttempt.objects.get()
    assert attempt.error == "connection_refused"
    retry_at = WebhookDelivery.objects.get().next_attempt_at
    assert retry_at is not None and retry_at > clock.now


def test_https_connects_to_the_vetted_address_with_the_host_name_for_sni_and_host(
    merchant: Merchant,
    token: Token,
    clock: SimClock,
    settings: SettingsWrapper,
    fake_dns: FakeDns,
    socket_guard: SocketGuard,
    tls_files: Callable[[str], TlsFiles],
) -> None:
    # given a TLS receiver with a certificate for hooks.example.test from the tests' CA, and
    # a name that resolves to 127.0.0.1 once — any later lookup would answer the metadata IP
    files = tls_files("hooks.example.test")
    settings.WEBHOOK_CA_BUNDLE = str(files.ca)
    settings.WEBHOOK_ALLOW_HTTP = False
    with receiver_server(
        tls=(str(files.cert), str(files.key)), host_name="hooks.example.test"
    ) as rx:
        fake_dns.set("hooks.example.test", ["127.0.0.1"])
        _, secret = webhook_endpoint_create(merchant=merchant, url=rx.url, enabled_events=["*"])
        rx.secrets.append(secret)
        rx.clock = clock.timestamp
        fake_dns.set("hooks.example.test", ["127.0.0.1"], ["169.254.169.254"])
        event_record(event_type="token.revoked", obj=token)

        # when
        deliveries_run(now=clock.now)

    # then the request went to 127.0.0.1, named hooks.example.test in SNI and Host, verified
    (received,) = rx.requests
    port = rx.url.split(":")[2].split("/")[0]
    assert received.verified_by == [0] and received.status == 200
    assert received.headers["Host"] == f"hooks.example.test:{port}"
    assert rx.sni_seen == ["hooks.example.test"]
    assert socket_guard.toward("127.0.0.1")[-1] == ("127.0.0.1", int(port))
    assert socket_guard.toward("169.254.169.254") == []
    assert fake_dns.lookups == ["hooks.example.test", "hooks.example.test"]  # save, delivery
    assert WebhookAttempt.objects.get().remote_address == "127.0.0.1"


def test_a_certificate_for_another_name_fails_the_attempt(
    merchant: Merchant,
    token: Token,
    clock: SimClock,
    settings: SettingsWrapper,
    fake_dns: FakeDns,
    tls_files: Callable[[str], TlsFiles],
) -> None:
    files = tls_files("other.example.test")
    settings.WEBHOOK_CA_BUNDLE = str(files.ca)
    with receiver_server(
        tls=(str(files.cert), str(files.key)), host_name="hooks.example.test"
    ) as rx:
        fake_dns.set("hooks.example.test", ["127.0.0.1"])
        webhook_endpoint_create(merchant=merchant, url=rx.url, enabled_events=["*"])
        event_record(event_type="token.revoked", obj=token)

        deliveries_run(now=clock.now)

        assert rx.requests == []
    assert WebhookAttempt.objects.get().error == "tls_certificate_invalid"


def test_a_claimed_delivery_is_not_attempted_again_while_its_attempt_runs(
    hooked: Hooked, token: Token, clock: SimClock
) -> None:
    # given a claim by a worker that then died (its attempt never recorded)
    event_record(event_type="token.revoked", obj=token)
    delivery = WebhookDelivery.objects.get()
    claim = delivery_claim(delivery_id=delivery.pk, now=clock.now)
    assert claim is not None and claim.number == 1

    # when other workers and passes look during the lease, nothing runs
    assert delivery_claim(delivery_id=delivery.pk, now=clock.now) is None
    assert delivery_attempt(delivery_id=delivery.pk, now=clock.advance(seconds=30)) is None
    assert deliveries_run(now=clock.now) == 0
    assert hooked.receiver.requests == []

    # then once the lease is over the delivery is due again (at least once)
    clock.advance(seconds=lease_seconds())
    hooked.receiver.clock = clock.timestamp
    assert deliveries_run(now=clock.now) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert len(hooked.receiver.accepted()) == 1


def test_resend_delivers_again_and_is_audited(
    hooked: Hooked, token: Token, clock: SimClock, admin_user: object
) -> None:
    hooked.receiver.clock = clock.timestamp
    event_record(event_type="token.revoked", obj=token)
    deliveries_run(now=clock.now)
    delivery = WebhookDelivery.objects.get()

    delivery_resend(delivery=delivery, actor="admin:ops")
    deliveries_run(now=clock.now)

    assert len(hooked.receiver.accepted()) == 2
    assert {json.loads(r.body)["id"] for r in hooked.receiver.requests} == {delivery.event_id}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert AuditEvent.objects.filter(action="webhook_delivery.resend", actor="admin:ops").exists()


def test_resend_to_a_disabled_endpoint_is_refused(
    hooked: Hooked, merchant: Merchant, token: Token
) -> None:
    event_record(event_type="token.revoked", obj=token)
    webhook_endpoint_update(merchant=merchant, endpoint_id=hooked.endpoint.pk, disabled=True)

    with pytest.raises(DeliveryNotResendable):
        delivery_resend(delivery=WebhookDelivery.objects.get(), actor="admin:ops")


def test_a_paused_endpoint_keeps_its_deliveries_and_gets_them_when_enabled_again(
    hooked: Hooked, merchant: Merchant, token: Token, clock: SimClock
) -> None:
    hooked.receiver.clock = clock.timestamp
    event_record(event_type="token.revoked", obj=token)
    webhook_endpoint_update(merchant=merchant, endpoint_id=hooked.endpoint.pk, disabled=True)
    assert deliveries_run(now=clock.advance(minutes=5)) == 0

    webhook_endpoint_update(merchant=merchant, endpoint_id=hooked.endpoint.pk, disabled=False)
    deliveries_run(now=clock.now)

    assert len(hooked.receiver.accepted()) == 1
    assert WebhookEndpoint.objects.get(pk=hooked.endpoint.pk).status == "enabled"


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_make_one_attempt_per_delivery(
    merchant: Merchant, token: Token, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given one due delivery whose hand-off to the broker was lost (so nothing ran it yet),
    # and a receiver that holds the first request open
    def broker_down(*args: object) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr("checkout.webhooks.tasks.deliver_webhook.delay", broker_down)
    _, secret = webhook_endpoint_create(merchant=merchant, url=receiver.url, enabled_events=["*"])
    receiver.secrets.append(secret)
    receiver.script[:] = ["block"]
    event_record(event_type="token.revoked", obj=token)
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 0
    barrier = threading.Barrier(4)
    results: list[object] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(delivery_attempt(delivery_id=delivery.pk))
        finally:
            connection.close()

    # when four workers try at the same moment
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(400):  # until one is inside the request and the other three gave up
        if receiver.arrived == 1 and len(results) == 3:
            break
        threading.Event().wait(0.025)
    others = list(results)
    receiver.release.set()
    for thread in threads:
        thread.join(30)

    # then the other three found nothing to do, and exactly one attempt was made
    assert others == [None, None, None]
    assert receiver.arrived == 1 and len(receiver.requests) == 1
    assert sum(1 for r in results if r is not None) == 1
    assert WebhookAttempt.objects.count() == 1
    assert WebhookDelivery.objects.get().status == "succeeded"
