"""The token admin: a view page (no Save), revoked from its own page with a reason, audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from monitoring.audit.models import AuditEvent
from tests.factories import TokenFactory
from tests.monitoring.support import otp_verified_login
from vault.models import Merchant, Token

pytestmark = pytest.mark.django_db


def _view_url(token: Token) -> str:
    return reverse("admin:vault_token_change", args=[token.pk])


def _revoke_url(token: Token) -> str:
    return reverse("admin:vault_token_revoke", args=[token.pk])


def test_token_page_is_a_view_with_a_revoke_button(
    admin_client: Client, merchant: Merchant
) -> None:
    token = TokenFactory.create(merchant=merchant)

    page = admin_client.get(_view_url(token)).content.decode()

    assert "<h1>View token</h1>" in page
    assert 'name="_save"' not in page
    assert 'name="_continue"' not in page
    assert f'href="{_revoke_url(token)}"' in page


def test_revoking_from_the_token_page_asks_for_a_reason_then_audits(
    admin_client: Client, merchant: Merchant
) -> None:
    token = TokenFactory.create(merchant=merchant)

    asked = admin_client.get(_revoke_url(token))
    empty = admin_client.post(_revoke_url(token), {"reason": ""})

    assert asked.status_code == 200
    assert 'name="reason"' in asked.content.decode()
    assert empty.status_code == 200
    assert Token.objects.get(pk=token.pk).status == Token.Status.ACTIVE
    assert not AuditEvent.objects.filter(action="token.revoke").exists()

    done = admin_client.post(_revoke_url(token), {"reason": "card reported stolen"})

    token.refresh_from_db()
    assert done.status_code == 302
    assert done["Location"] == _view_url(token)
    assert (token.status, token.revoked_reason, token.revoked_by) == (
        Token.Status.REVOKED,
        "card reported stolen",
        "admin:admin",
    )
    assert token.card_data_id is None
    (event,) = AuditEvent.objects.filter(action="token.revoke", object_id=token.pk)
    assert (event.actor, event.reason) == ("admin:admin", "card reported stolen")


def test_a_revoked_token_offers_no_revoke_and_is_not_revoked_twice(
    admin_client: Client, merchant: Merchant
) -> None:
    token = TokenFactory.create(merchant=merchant)
    admin_client.post(_revoke_url(token), {"reason": "first"})

    page = admin_client.get(_view_url(token)).content.decode()
    again = admin_client.post(_revoke_url(token), {"reason": "second"})

    assert _revoke_url(token) not in page
    assert again.status_code == 302
    assert Token.objects.get(pk=token.pk).revoked_reason == "first"
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


def test_staff_who_may_only_view_tokens_cannot_revoke(
    django_user_model: Any, client: Client, merchant: Merchant
) -> None:
    token = TokenFactory.create(merchant=merchant)
    clerk = django_user_model.objects.create_user("clerk", password="x" * 20, is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_token"))
    otp_verified_login(client, clerk)

    page = client.get(_view_url(token))
    refused = client.post(_revoke_url(token), {"reason": "because"})
    bulk = client.post(
        reverse("admin:vault_token_changelist"),
        {"action": "revoke_selected", "_selected_action": [token.pk], "apply": "1", "reason": "x"},
    )

    assert page.status_code == 200
    assert _revoke_url(token) not in page.content.decode()
    assert refused.status_code == 403
    assert bulk.status_code in (200, 302)
    assert Token.objects.get(pk=token.pk).status == Token.Status.ACTIVE
    assert not AuditEvent.objects.filter(action="token.revoke").exists()


def test_token_list_shows_times_to_the_second(admin_client: Client, merchant: Merchant) -> None:
    token = TokenFactory.create(merchant=merchant)

    page = admin_client.get(reverse("admin:vault_token_changelist")).content.decode()

    assert f"{token.created_at:%Y-%m-%d %H:%M:%S} UTC" in page
