"""Events are kept for the promised 30 days (or longer, as configured), then go with their
deliveries and attempts; an event with a delivery still pending stays."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from checkout.payments.services import charge_create
from checkout.webhooks.delivery import deliveries_run
from checkout.webhooks.events import events_purge
from checkout.webhooks.models import Event, WebhookAttempt, WebhookDelivery
from tests.checkout.webhooks.conftest import Hooked, SimClock
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db(transaction=True)


def _charge(merchant: Merchant, token: Token) -> str:
    return charge_create(merchant=merchant, token_id=token.id, amount=500, currency="EUR").id


def _kept(merchant: Merchant) -> set[str]:
    return set(Event.objects.filter(merchant=merchant).values_list("object_id", flat=True))


def test_events_past_retention_go_with_their_deliveries_and_attempts(
    hooked: Hooked, merchant: Merchant, token: Token, clock: SimClock
) -> None:
    hooked.receiver.clock = clock.timestamp
    old = _charge(merchant, token)
    deliveries_run(now=clock.now)
    clock.advance(days=1)
    recent = _charge(merchant, token)
    deliveries_run(now=clock.now)
    assert WebhookAttempt.objects.count() == 2
    assert _kept(merchant) == {old, recent}

    clock.advance(days=29, seconds=1)  # old: 30 days and 1 s; recent: 29 days and 1 s
    purged = events_purge()

    assert purged == 1
    assert _kept(merchant) == {recent}
    assert list(WebhookDelivery.objects.values_list("event__object_id", flat=True)) == [recent]
    assert list(WebhookAttempt.objects.values_list("delivery__event__object_id", flat=True)) == [
        recent
    ]


def test_an_event_with_a_pending_delivery_stays_until_the_delivery_ends(
    hooked: Hooked, merchant: Merchant, token: Token, clock: SimClock
) -> None:
    hooked.receiver.script = [500]  # the first attempt fails: the delivery stays pending
    pending = _charge(merchant, token)
    clock.advance(days=31)

    assert events_purge() == 0
    assert _kept(merchant) == {pending}
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PENDING


def test_retention_is_never_shorter_than_the_30_days_the_api_promises(
    merchant: Merchant, token: Token, clock: SimClock, settings: Any
) -> None:
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 1
    first = _charge(merchant, token)
    clock.advance(days=10)

    assert events_purge() == 0
    assert _kept(merchant) == {first}

    settings.WEBHOOK_EVENT_RETENTION_DAYS = 45
    clock.advance(days=25)  # 35 days
    assert events_purge() == 0
    clock.advance(days=10, seconds=1)  # just past 45 days
    assert events_purge() == 1
    assert _kept(merchant) == set()


def test_purge_works_through_many_batches_and_from_the_command_line(
    merchant: Merchant, token: Token, clock: SimClock
) -> None:
    old = {_charge(merchant, token) for _ in range(5)}
    clock.advance(days=31)
    young = _charge(merchant, token)

    assert events_purge(batch=2) == len(old)
    assert _kept(merchant) == {young}

    clock.advance(days=31)
    out = StringIO()
    call_command("purge_events", stdout=out)
    assert out.getvalue().strip() == "purged 1 events"
    assert _kept(merchant) == set()


def test_beat_runs_the_purge_and_every_scheduled_task_exists(
    merchant: Merchant, token: Token, clock: SimClock, settings: Any
) -> None:
    from payments_site.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "checkout.webhooks.events_purge" in scheduled
    assert scheduled <= set(app.tasks)

    _charge(merchant, token)
    clock.advance(days=31)
    assert app.tasks["checkout.webhooks.events_purge"].apply().get() == 1
    assert _kept(merchant) == set()
