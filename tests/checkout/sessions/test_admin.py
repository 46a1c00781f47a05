"""The checkout-session admin: read-only, amounts as money, what the session produced."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from checkout.sessions.models import CheckoutSession

pytestmark = pytest.mark.django_db


def test_sessions_are_listed_with_amounts_as_money(
    admin_client: Client, session_factory: Callable[..., CheckoutSession]
) -> None:
    payment = session_factory(amount=4900, currency="EUR")
    subscription = session_factory(mode="subscription", amount=900, currency="EUR")
    yen = session_factory(amount=500, currency="JPY")

    page = admin_client.get(reverse("admin:checkout_checkoutsession_changelist")).content.decode()

    for session in (payment, subscription, yen):
        assert session.id in page
    assert "€49.00" in page
    assert "€9.00 per month" in page
    assert "¥500" in page
    assert ">4900<" not in page
    assert f"{payment.expires_at:%Y-%m-%d %H:%M:%S} UTC" in page


def test_session_page_is_a_view_without_the_page_nonce(
    admin_client: Client, session_factory: Callable[..., CheckoutSession]
) -> None:
    session = session_factory(amount=1999, currency="EUR")
    url = reverse("admin:checkout_checkoutsession_change", args=[session.pk])

    page = admin_client.get(url).content.decode()

    assert "<h1>View checkout session</h1>" in page
    assert 'name="_save"' not in page
    assert "€19.99" in page
    assert session.nonce not in page
    assert admin_client.get(reverse("admin:checkout_checkoutsession_add")).status_code == 403
    delete = admin_client.post(reverse("admin:checkout_checkoutsession_delete", args=[session.pk]))
    assert delete.status_code == 403
    assert CheckoutSession.objects.filter(pk=session.pk).exists()
