"""What operators see of webhooks: events, endpoints and deliveries with every attempt, a
"resend" action — behind the admin's second factor, and never a signing secret."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.admin.utils import quote
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from checkout.webhooks.delivery import ALERT_RULE, deliveries_run
from checkout.webhooks.events import event_record
from checkout.webhooks.models import WebhookDelivery, WebhookSecret
from checkout.webhooks.services import webhook_endpoint_create, webhook_endpoint_secret_roll
from tests.checkout.webhooks.conftest import Hooked, SimClock
from tests.checkout.webhooks.receiver import silent_listener
from vault.models import Merchant, Token


def _url(name: str, obj: Any = None) -> str:
    return reverse(f"admin:checkout_{name}", args=[quote(obj.pk)] if obj is not None else None)


def _assert_csp_clean(content: bytes) -> None:
    assert b" style=" not in content
    for tag in re.findall(rb"<script[^>]*>", content):
        assert b"src=" in tag


def test_deliveries_show_every_attempt_and_no_secret(
    admin_client: Client, hooked: Hooked, merchant: Merchant, token: Token, clock: SimClock
) -> None:
    # given a delivery that failed once, then succeeded; and a rolled secret
    hooked.receiver.clock = clock.timestamp
    hooked.receiver.script[:] = [503]
    event = event_record(event_type="token.revoked", obj=token)
    deliveries_run(now=clock.now)
    deliveries_run(now=clock.advance(minutes=2))
    _, rolled = webhook_endpoint_secret_roll(merchant=merchant, endpoint_id=hooked.endpoint.pk)
    delivery = WebhookDelivery.objects.get()

    # when operators look
    pages = {
        "deliveries": admin_client.get(_url("webhookdelivery_changelist")),
        "delivery": admin_client.get(_url("webhookdelivery_change", delivery)),
        "endpoints": admin_client.get(_url("webhookendpoint_changelist")),
        "endpoint": admin_client.get(_url("webhookendpoint_change", hooked.endpoint)),
        "events": admin_client.get(_url("event_changelist")),
        "event": admin_client.get(_url("event_change", event)),
    }

    # then they see the attempts (status, latency, error) and the payload…
    assert {name: page.status_code for name, page in pages.items()} == dict.fromkeys(pages, 200)
    detail = pages["delivery"].content.decode()
    assert "HTTP 503 Service Unavailable" in detail
    assert "127.0.0.1" in detail and "succeeded" in detail
    assert event.id in pages["event"].content.decode()
    assert "token.revoked" in pages["event"].content.decode()
    # …and nothing of any secret, in clear or encrypted
    for name, page in pages.items():
        content = page.content.decode()
        assert "whsec_" not in content, name
        assert hooked.secret.removeprefix("whsec_") not in content, name
        assert rolled.removeprefix("whsec_") not in content, name
        for row in WebhookSecret.objects.all():
            assert bytes(row.ciphertext).hex() not in content, name
        assert 'name="url"' not in content  # read-only: no form inputs
        _assert_csp_clean(page.content)
    assert admin_client.get(reverse("admin:index")).content.count(b"Webhook secret") == 0


def test_the_resend_action_delivers_again(
    admin_client: Client, hooked: Hooked, token: Token, clock: SimClock
) -> None:
    hooked.receiver.clock = clock.timestamp
    event_record(event_type="token.revoked", obj=token)
    deliveries_run(now=clock.now)
    delivery = WebhookDelivery.objects.get()

    response = admin_client.post(
        _url("webhookdelivery_changelist"),
        {"action": "resend", "_selected_action": [delivery.pk]},
    )
    deliveries_run(now=clock.now)

    assert response.status_code == 302
    assert len(hooked.receiver.accepted()) == 2
    delivery.refresh_from_db()
    assert delivery.attempts == 2


def test_webhook_admin_pages_need_the_second_factor(
    client: Client, admin_user: User, hooked: Hooked, token: Token
) -> None:
    # given a staff login with the password only
    client.force_login(admin_user)
    event_record(event_type="token.revoked", obj=token)
    delivery = WebhookDelivery.objects.get()

    pages = [
        client.get(_url("webhookdelivery_changelist")),
        client.get(_url("webhookdelivery_change", delivery)),
        client.get(_url("webhookendpoint_changelist")),
        client.post(
            _url("webhookdelivery_changelist"),
            {"action": "resend", "_selected_action": [delivery.pk]},
        ),
    ]

    assert {page.status_code for page in pages} == {302}
    assert all("/admin/login/" in page["Location"] for page in pages)
    assert delivery.attempts == WebhookDelivery.objects.get().attempts == 0


def test_nothing_can_be_added_changed_or_deleted_in_the_webhook_admin(
    admin_client: Client, hooked: Hooked, token: Token
) -> None:
    event_record(event_type="token.revoked", obj=token)
    delivery = WebhookDelivery.objects.get()

    add = admin_client.get(_url("webhookendpoint_add"))
    delete = admin_client.post(_url("webhookdelivery_delete", delivery), {"post": "yes"})
    change = admin_client.post(
        _url("webhookendpoint_change", hooked.endpoint), {"url": "https://example.com/"}
    )

    assert (add.status_code, delete.status_code, change.status_code) == (403, 403, 403)
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    hooked.endpoint.refresh_from_db()
    assert hooked.endpoint.url == hooked.receiver.url


def test_a_disabled_endpoint_alert_shows_in_security_alerts_and_the_overview(
    admin_client: Client, merchant: Merchant, token: Token, clock: SimClock
) -> None:
    # given an endpoint whose port refuses every connection, retried until it is disabled
    with silent_listener() as url:
        pass  # closed again: nothing listens there now
    endpoint, _ = webhook_endpoint_create(merchant=merchant, url=url, enabled_events=["*"])
    event_record(event_type="token.revoked", obj=token)
    for _ in range(40):
        deliveries_run(now=clock.now)
        due = WebhookDelivery.objects.get().next_attempt_at
        if due is None:
            break
        clock.set(due)
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled"

    # when operators look at the security alerts
    alerts = admin_client.get(reverse("admin:monitoring_securityalert_changelist"))
    overview = admin_client.get(reverse("admin:index"))

    # then the webhook alert is there, for the merchant
    assert alerts.status_code == overview.status_code == 200
    assert ALERT_RULE.encode() in alerts.content
    assert merchant.pk.encode() in alerts.content
    assert ALERT_RULE.encode() in overview.content
