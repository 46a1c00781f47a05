"""Merchant token API (masked metadata, revocation) and the admin (no way to reveal)."""

from __future__ import annotations

import pytest
from django.contrib.admin.utils import quote
from django.test import Client
from rest_framework.test import APIClient

from monitoring.audit.models import AuditEvent
from tests.factories import MerchantFactory
from vault.cards import card_validate
from vault.keys import KeyService
from vault.merchants import IssuedKey, api_key_create
from vault.models import EncryptedCard, Merchant, Token
from vault.services import token_create

pytestmark = [pytest.mark.django_db, pytest.mark.parametrize("backend_name", ["local"])]
PAN = "4242424242424242"


def _token(merchant: Merchant, number: str = PAN) -> Token:
    card = card_validate(number=number, exp_month=12, exp_year=2030, cvc="123")
    return token_create(merchant=merchant, card=card, actor="test")


def _problem(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/problem+json"  # type: ignore[index]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["code"] == code
    return body


def test_get_token_shows_masked_metadata_only(
    key_service: KeyService, api_client: APIClient, merchant: Merchant
) -> None:
    token = _token(merchant)

    response = api_client.get(f"/api/v1/tokens/{token.id}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "id",
        "object",
        "livemode",
        "brand",
        "last4",
        "exp_month",
        "exp_year",
        "fingerprint",
        "status",
        "expired",
        "created",
        "last_used_at",
        "revoked_at",
    }
    assert (body["id"], body["brand"], body["last4"], body["status"]) == (
        token.id,
        "visa",
        "4242",
        "active",
    )
    assert PAN not in response.content.decode()


def test_list_tokens_paginates_and_filters(
    key_service: KeyService, api_client: APIClient, merchant: Merchant
) -> None:
    tokens = [_token(merchant) for _ in range(3)] + [_token(merchant, "5555555555554444")]
    _token(MerchantFactory.create(name="Other"))  # never listed

    first = api_client.get("/api/v1/tokens", {"limit": 2}).json()
    second = api_client.get(
        "/api/v1/tokens", {"limit": 2, "starting_after": first["data"][-1]["id"]}
    ).json()
    mastercard = api_client.get("/api/v1/tokens", {"brand": "mastercard"}).json()

    listed = [t["id"] for t in first["data"] + second["data"]]
    assert sorted(listed) == sorted(t.id for t in tokens)
    assert (first["has_more"], second["has_more"]) == (True, False)
    assert [t["id"] for t in mastercard["data"]] == [tokens[3].id]


def test_bad_list_parameters_are_a_400_problem(
    key_service: KeyService, api_client: APIClient
) -> None:
    url = "/api/v1/tokens?limit=0&status=x&fingerprint=a+b&starting_after=tok_$"
    body = _problem(api_client.get(url), 400, "validation_error")

    errors: list[dict[str, str]] = body["errors"]  # type: ignore[assignment]
    assert {e["field"] for e in errors} == {"limit", "status", "fingerprint", "starting_after"}
    # an unknown or foreign cursor names the parameter, like the checkout's lists
    unknown = _problem(
        api_client.get("/api/v1/tokens", {"starting_after": "tok_" + "a" * 22}),
        400,
        "validation_error",
    )
    assert unknown["errors"] == [
        {"field": "starting_after", "code": "invalid", "message": "No such object in this list."}
    ]
    # A NUL anywhere in the URL is refused before the view (payments_site.middleware).
    _problem(api_client.get("/api/v1/tokens?fingerprint=%00"), 400, "malformed_request")


@pytest.mark.parametrize(
    "token_id", ["tok_doesnotexist", "nope", "tok_" + "x" * 100, "tok_$$", "tok_" + "é" * 20]
)
def test_unknown_token_is_404(
    key_service: KeyService, api_client: APIClient, token_id: str
) -> None:
    _problem(api_client.get(f"/api/v1/tokens/{token_id}"), 404, "token_not_found")


@pytest.mark.parametrize("token_id", ["tok_%00", "tok_%00" + "a" * 20])
def test_nul_in_a_token_id_is_refused_before_the_view(
    key_service: KeyService, api_client: APIClient, token_id: str
) -> None:
    _problem(api_client.get(f"/api/v1/tokens/{token_id}"), 400, "malformed_request")


def test_another_merchants_token_is_404_and_cannot_be_revoked(
    key_service: KeyService, api_client: APIClient
) -> None:
    foreign = _token(MerchantFactory.create(name="Other"))

    _problem(api_client.get(f"/api/v1/tokens/{foreign.id}"), 404, "token_not_found")
    _problem(api_client.delete(f"/api/v1/tokens/{foreign.id}"), 404, "token_not_found")

    foreign.refresh_from_db()
    assert foreign.status == "active"
    assert EncryptedCard.objects.filter(token=foreign).exists()


def test_delete_revokes_and_shreds(
    key_service: KeyService, api_client: APIClient, merchant: Merchant, issued_key: IssuedKey
) -> None:
    token = _token(merchant)

    response = api_client.delete(f"/api/v1/tokens/{token.id}?reason=customer+left")

    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    token.refresh_from_db()
    assert (token.status, token.card_data_id, token.revoked_reason) == (
        "revoked",
        None,
        "customer left",
    )
    event = AuditEvent.objects.get(action="token.revoke")
    assert event.actor == f"api_key:{issued_key.api_key.id}"
    # again: still 200, nothing changes
    assert api_client.delete(f"/api/v1/tokens/{token.id}").json()["status"] == "revoked"


def test_delete_with_an_unprintable_reason_is_a_400(
    key_service: KeyService, api_client: APIClient, merchant: Merchant
) -> None:
    token = _token(merchant)

    _problem(api_client.delete(f"/api/v1/tokens/{token.id}?reason=%00"), 400, "malformed_request")
    _problem(api_client.delete(f"/api/v1/tokens/{token.id}?reason=%01%02"), 400, "invalid_reason")
    assert Token.objects.get(pk=token.pk).status == "active"


def test_token_api_needs_a_key(key_service: KeyService, merchant: Merchant) -> None:
    token = _token(merchant)

    _problem(APIClient().get(f"/api/v1/tokens/{token.id}"), 401, "authentication_required")
    _problem(APIClient().delete(f"/api/v1/tokens/{token.id}"), 401, "authentication_required")
    assert Token.objects.get(pk=token.pk).status == "active"


# --- admin ------------------------------------------------------------------------------------


def test_admin_lists_masked_tokens_and_has_no_reveal(
    key_service: KeyService, admin_client: Client, merchant: Merchant
) -> None:
    token = _token(merchant)

    listing = admin_client.get("/admin/vault/token/", {"status__exact": "active"})
    detail = admin_client.get(f"/admin/vault/token/{quote(token.id)}/change/")

    assert listing.status_code == detail.status_code == 200
    for page in (listing.content.decode(), detail.content.decode()):
        assert "•••• 4242" in page
        assert PAN not in page
        assert "reveal" not in page.lower()
    assert admin_client.get("/admin/vault/token/add/").status_code == 403
    assert admin_client.get("/admin/vault/encryptedcard/").status_code == 404
    assert admin_client.get("/admin/vault/datakey/").status_code == 404


def test_admin_revoke_action_asks_for_a_reason(
    key_service: KeyService, admin_client: Client, merchant: Merchant
) -> None:
    tokens = [_token(merchant), _token(merchant)]
    selection = {"action": "revoke_selected", "_selected_action": [t.id for t in tokens]}

    # the action first asks for a reason, and revokes nothing
    asked = admin_client.post("/admin/vault/token/", selection)
    assert asked.status_code == 200
    assert "Revoke tokens" in asked.content.decode()
    empty = admin_client.post("/admin/vault/token/", {**selection, "apply": "1", "reason": ""})
    assert empty.status_code == 200
    assert Token.objects.filter(status="active").count() == 2

    # with a reason, every selected token is revoked and the admin is the audited actor
    done = admin_client.post(
        "/admin/vault/token/", {**selection, "apply": "1", "reason": "card reported stolen"}
    )

    assert done.status_code == 302
    assert set(Token.objects.values_list("status", "revoked_reason")) == {
        ("revoked", "card reported stolen")
    }
    assert set(
        AuditEvent.objects.filter(action="token.revoke").values_list("actor", flat=True)
    ) == {"admin:admin"}


def test_other_merchants_key_sees_nothing(key_service: KeyService, merchant: Merchant) -> None:
    _token(merchant)
    other = api_key_create(merchant=MerchantFactory.create(name="Other"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {other.secret}")

    assert client.get("/api/v1/tokens").json()["data"] == []
