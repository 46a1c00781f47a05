"""An event goes to its merchant's endpoints of its own mode only."""

from __future__ import annotations

import pytest
from django.utils import timezone

from checkout.webhooks.events import event_record
from checkout.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import TokenFactory
from vault.models import Merchant

pytestmark = pytest.mark.django_db


def _endpoint(merchant: Merchant, *, livemode: bool) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        merchant=merchant,
        livemode=livemode,
        url="https://hooks.example/x",
        enabled_events=["*"],
        created_at=timezone.now(),
    )


@pytest.mark.parametrize("livemode", [False, True], ids=["test", "live"])
def test_an_event_is_queued_for_endpoints_of_its_mode_only(
    merchant: Merchant, livemode: bool
) -> None:
    own = _endpoint(merchant, livemode=livemode)
    _endpoint(merchant, livemode=not livemode)
    number = "4242424242424242" if not livemode else "4111111111111111"
    token = TokenFactory.create(merchant=merchant.in_mode(livemode), number=number)

    event = event_record(event_type="token.revoked", obj=token)

    assert event.livemode is livemode
    deliveries = list(WebhookDelivery.objects.all())
    assert [(d.endpoint_id, d.livemode) for d in deliveries] == [(own.pk, livemode)]
