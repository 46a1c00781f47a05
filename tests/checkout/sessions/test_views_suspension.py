"""A suspended merchant's open checkout pages take no card; reactivated, they do again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from checkout.payments.models import Charge
from checkout.sessions.models import CheckoutSession
from tests.checkout.sessions.test_views import page_url, raw_post
from vault.keys import KeyService
from vault.merchants import merchant_reactivate, merchant_suspend
from vault.models import Token

pytestmark = pytest.mark.django_db


def test_a_suspended_merchants_page_refuses_the_card_until_reactivated(
    keys: KeyService, client: Client, session_factory: Callable[..., CheckoutSession]
) -> None:
    session = session_factory()
    card = raw_post(session)
    merchant_suspend(merchant=session.merchant, actor="test")

    page = client.get(page_url(session))
    posted = client.post(page_url(session), card)

    session.refresh_from_db()
    assert page.status_code == 404 and b'name="number"' not in page.content
    assert posted.status_code == 404
    assert session.status == "open"
    assert not Token.objects.exists() and not Charge.objects.exists()

    merchant_reactivate(merchant=session.merchant, actor="test")
    paid = client.post(page_url(session), raw_post(session))

    session.refresh_from_db()
    assert paid.status_code == 303 and session.status == "complete"
    assert Charge.objects.get().status == "succeeded"
