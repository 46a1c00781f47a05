"""A session whose time runs out is expired once and announced once (``checkout.session.expired``,
as an explicit expire is), by whichever of the beat pass, a read, a list or its page sees it
first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from checkout.sessions.expiry import checkout_sessions_expire
from checkout.sessions.models import CheckoutSession
from checkout.sessions.tasks import checkout_sessions_expire as checkout_sessions_expire_task
from checkout.webhooks.models import Event
from monitoring.audit.models import AuditEvent
from vault.models import Merchant

EXPIRED = "checkout.session.expired"


def _lapsed(session_factory: Callable[..., CheckoutSession], **kwargs: Any) -> CheckoutSession:
    session = session_factory(**kwargs)
    CheckoutSession.objects.filter(pk=session.pk).update(
        created_at=timezone.now() - timedelta(hours=2),
        expires_at=timezone.now() - timedelta(hours=1),
    )
    return session


@pytest.mark.django_db
def test_the_beat_pass_expires_a_lapsed_session_and_announces_it_once(
    merchant: Merchant,
    session_factory: Callable[..., CheckoutSession],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    lapsed, fresh = _lapsed(session_factory), session_factory()

    with django_capture_on_commit_callbacks(execute=True):
        first = checkout_sessions_expire_task.apply().get()
        again = checkout_sessions_expire_task.apply().get()

    assert (first, again) == (1, 0)
    statuses = dict(CheckoutSession.objects.values_list("pk", "status"))
    assert statuses == {lapsed.pk: "expired", fresh.pk: "open"}
    (event,) = Event.objects.filter(type=EXPIRED)
    assert (event.object_id, event.merchant_id, event.livemode) == (lapsed.pk, merchant.pk, False)
    (audit,) = AuditEvent.objects.filter(action="checkout.session.expire")
    assert (audit.object_id, audit.actor, audit.reason) == (lapsed.pk, "system", "expires_at")
    assert settings.CELERY_BEAT_SCHEDULE["checkout-sessions-expire"]["task"] == (
        "checkout.tasks.checkout_sessions_expire"
    )


@pytest.mark.django_db
def test_a_lapse_seen_on_read_list_and_page_is_announced_once(
    api_client: APIClient,
    session_factory: Callable[..., CheckoutSession],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    lapsed = _lapsed(session_factory)

    with django_capture_on_commit_callbacks(execute=True):
        read = api_client.get(f"/api/v1/checkout/sessions/{lapsed.pk}")
        listed = api_client.get("/api/v1/checkout/sessions")
        page = Client().get(f"/checkout/{lapsed.pk}/")
        swept = checkout_sessions_expire()

    assert (read.status_code, read.json()["status"]) == (200, "expired")
    assert [s["status"] for s in listed.json()["data"]] == ["expired"]
    assert page.status_code == 410
    assert swept == 0
    assert list(Event.objects.filter(type=EXPIRED).values_list("object_id", flat=True)) == [
        lapsed.pk
    ]


@pytest.mark.django_db
def test_the_list_announces_every_lapsed_session_it_shows_as_expired(
    api_client: APIClient,
    session_factory: Callable[..., CheckoutSession],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    lapsed = {_lapsed(session_factory).pk for _ in range(3)}

    with django_capture_on_commit_callbacks(execute=True):
        listed = api_client.get("/api/v1/checkout/sessions", {"status": "open"}).json()
        api_client.get("/api/v1/checkout/sessions")

    assert listed["data"] == []
    assert set(Event.objects.filter(type=EXPIRED).values_list("object_id", flat=True)) == lapsed
    assert Event.objects.filter(type=EXPIRED).count() == 3


@pytest.mark.django_db
def test_a_session_expired_by_the_merchant_is_not_announced_again_when_its_time_runs_out(
    api_client: APIClient,
    session_factory: Callable[..., CheckoutSession],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    session = session_factory()
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(f"/api/v1/checkout/sessions/{session.pk}/expire")
        CheckoutSession.objects.filter(pk=session.pk).update(
            created_at=timezone.now() - timedelta(hours=2),
            expires_at=timezone.now() - timedelta(hours=1),
        )
        swept = checkout_sessions_expire()
        api_client.get(f"/api/v1/checkout/sessions/{session.pk}")

    assert swept == 0
    assert Event.objects.filter(type=EXPIRED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_passes_run_at_once_announce_each_lapsed_session_once(
    merchant: Merchant,
    session_factory: Callable[..., CheckoutSession],
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL only")
    lapsed = {_lapsed(session_factory).pk for _ in range(10)}
    workers = 6
    barrier = threading.Barrier(workers)
    counts: list[int] = []

    def run() -> None:
        barrier.wait()
        try:
            counts.append(checkout_sessions_expire())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(counts) == 10 and len(counts) == workers
    announced = list(Event.objects.filter(type=EXPIRED).values_list("object_id", flat=True))
    assert sorted(announced) == sorted(lapsed)
    assert AuditEvent.objects.filter(action="checkout.session.expire").count() == 10
