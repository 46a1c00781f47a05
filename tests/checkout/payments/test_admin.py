"""Charges in the admin: amounts as money in the currency's own digits, never minor units."""

from __future__ import annotations

import pytest
from django.contrib.admin.utils import quote
from django.test import Client
from django.urls import reverse

from checkout.payments.admin import money
from checkout.payments.services import charge_create
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(4900, "EUR", "€49.00"), (500, "JPY", "¥500"), (1234, "KWD", "KWD1.234"), (None, "", "-")],
)
def test_money_uses_the_currencys_digits(amount: int | None, currency: str, shown: str) -> None:
    assert money(amount, currency).replace("\xa0", " ") == shown


def test_charge_list_and_page_show_money(
    admin_client: Client, merchant: Merchant, token: Token
) -> None:
    charge = charge_create(merchant=merchant, token_id=token.id, amount=4900, currency="EUR")

    listing = admin_client.get(reverse("admin:checkout_charge_changelist")).content.decode()
    page = admin_client.get(
        reverse("admin:checkout_charge_change", args=[quote(charge.pk)])
    ).content.decode()

    assert "€49.00" in listing
    assert ">4900<" not in listing
    assert "<h1>View charge</h1>" in page
    assert "€49.00" in page
    assert 'name="_save"' not in page


def test_adyen_notifications_show_what_they_did_and_cannot_be_edited(admin_client: Client) -> None:
    from checkout.payments.processors.models import AdyenNotification

    row = AdyenNotification.objects.create(
        psp_reference="PSPADMIN00000001",
        event_code="CAPTURE",
        success=True,
        live=False,
        charge_id="ch_admin",
        outcome=AdyenNotification.Outcome.CONFLICT,
    )
    listing = admin_client.get(
        reverse("admin:checkout_adyennotification_changelist")
    ).content.decode()
    page = admin_client.get(
        reverse("admin:checkout_adyennotification_change", args=[quote(row.pk)])
    ).content.decode()

    assert "PSPADMIN00000001" in listing
    assert "Conflicts with our record" in listing
    assert 'name="_save"' not in page
    assert (
        admin_client.post(
            reverse("admin:checkout_adyennotification_delete", args=[quote(row.pk)]),
            {"post": "yes"},
        ).status_code
        == 403
    )
