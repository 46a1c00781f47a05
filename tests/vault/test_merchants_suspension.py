"""Suspension from the API's side: every write in the OpenAPI schema is 403
``merchant_suspended`` and changes nothing, reads keep working; the command and the admin
action are audited; reactivation lets writes through again."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from monitoring.audit.models import AuditEvent
from tests.payments_site.test_parameters import (
    OPERATIONS,
    WRITES,
    _example,
    _id,
    _rows,
    _send,
    _url,
)
from vault.merchants import merchant_reactivate, merchant_suspend
from vault.models import Merchant

pytestmark = pytest.mark.django_db
READS = [op for op in OPERATIONS if op[0] == "GET" and "{" not in op[1]]


@pytest.mark.parametrize("op", WRITES, ids=_id)
def test_every_write_of_a_suspended_merchant_is_403(
    api_client: APIClient, merchant: Merchant, op: tuple[str, str, dict[str, Any]]
) -> None:
    method, path, operation = op
    merchant_suspend(merchant=merchant, actor="test")
    before = _rows()

    response = _send(api_client, method, _url(path), _example(operation) or None)

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "merchant_suspended"
    assert _rows() == before


@pytest.mark.parametrize("op", READS, ids=_id)
def test_a_suspended_merchant_still_reads(
    api_client: APIClient, merchant: Merchant, op: tuple[str, str, dict[str, Any]]
) -> None:
    merchant_suspend(merchant=merchant, actor="test")

    response = _send(api_client, "GET", op[1])

    assert response.status_code == 200, response.content


def test_reactivation_lets_writes_through_again(api_client: APIClient, merchant: Merchant) -> None:
    body = {
        "mode": "setup",
        "success_url": "https://a.example/",
        "cancel_url": "https://a.example/",
    }
    merchant_suspend(merchant=merchant, actor="test")
    assert _send(api_client, "POST", "/api/v1/checkout/sessions", body).status_code == 403

    merchant_reactivate(merchant=merchant, actor="test")

    assert _send(api_client, "POST", "/api/v1/checkout/sessions", body).status_code == 201


def test_the_command_suspends_and_reactivates_audited(merchant: Merchant) -> None:
    with open("/dev/null", "w") as sink:
        call_command("suspend_merchant", merchant.pk, "--reason", "chargebacks", stdout=sink)
        merchant.refresh_from_db()
        assert not merchant.is_active
        call_command("suspend_merchant", merchant.pk, "--reactivate", stdout=sink)
    merchant.refresh_from_db()

    assert merchant.is_active
    actions = list(
        AuditEvent.objects.filter(
            object_id=merchant.pk, action__startswith="merchant.s"
        ).values_list("action", "actor", "reason")
    )
    assert actions == [("merchant.suspend", "cli:suspend_merchant", "chargebacks")]
    assert AuditEvent.objects.filter(object_id=merchant.pk, action="merchant.reactivate").exists()


def test_the_admin_actions_suspend_and_reactivate_audited(
    admin_client: Client, merchant: Merchant
) -> None:
    url = "/admin/vault/merchant/"

    admin_client.post(url, {"action": "suspend", "_selected_action": [merchant.pk]})
    merchant.refresh_from_db()
    assert not merchant.is_active
    admin_client.post(url, {"action": "reactivate", "_selected_action": [merchant.pk]})
    merchant.refresh_from_db()

    assert merchant.is_active
    audited = AuditEvent.objects.filter(object_id=merchant.pk, actor__startswith="admin:")
    assert sorted(audited.values_list("action", flat=True)) == [
        "merchant.reactivate",
        "merchant.suspend",
    ]
