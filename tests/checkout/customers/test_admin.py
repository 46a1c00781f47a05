"""The customers admin: read-only, mode shown and filtered, email masked in the list."""

from __future__ import annotations

from typing import Any

import pytest

from checkout.customers.services import customer_create
from vault.models import Merchant

pytestmark = pytest.mark.django_db


def test_the_list_masks_the_email_and_filters_by_mode(
    admin_client: Any, merchant: Merchant
) -> None:
    test = customer_create(merchant=merchant, actor="test", email="ada.lovelace@example.com")
    live = customer_create(merchant=merchant.in_mode(True), actor="test", email="bob@example.org")

    page = admin_client.get("/admin/checkout/customer/").content.decode()
    live_only = admin_client.get("/admin/checkout/customer/", {"livemode__exact": "1"})

    assert "a***@example.com" in page and "b***@example.org" in page
    assert "ada.lovelace@example.com" not in page and "bob@example.org" not in page
    body = live_only.content.decode()
    assert live.pk in body and test.pk not in body
    assert admin_client.get("/admin/checkout/customer/add/").status_code == 403
