"""``/api/v1/webhook_endpoints``: create (secret shown once), list, read, update, delete,
roll the secret; and what is stored (never the secret in clear)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from checkout.payments.idempotency.models import IdempotencyKey
from checkout.webhooks.events import event_record
from checkout.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookSecret
from checkout.webhooks.secrets import secret_open, secrets_valid
from monitoring.audit.models import AuditEvent
from tests.checkout.webhooks.conftest import SimClock
from tests.checkout.webhooks.receiver import Receiver
from tests.factories import MerchantFactory
from tests.support.leaks import assert_no_card_number
from vault.keys import KeyDecryptionFailed
from vault.merchants import api_key_create
from vault.models import Merchant, Token

URL = "/api/v1/webhook_endpoints"


def _create(client: APIClient, receiver: Receiver, **extra: object) -> dict:
    body = {"url": receiver.url, "enabled_events": ["charge.succeeded"], **extra}
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _dump_database() -> str:
    """Every row of every table, as text (what a stolen backup would show)."""
    lines: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (introspected names)
            lines.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(lines)


def test_create_answers_the_secret_once_and_stores_it_only_encrypted(
    api_client: APIClient, receiver: Receiver
) -> None:
    # when
    created = _create(api_client, receiver, description="orders")

    # then the answer carries the secret…
    assert created["id"].startswith("we_")
    assert created["object"] == "webhook_endpoint"
    assert created["url"] == receiver.url
    assert created["enabled_events"] == ["charge.succeeded"]
    assert created["status"] == "enabled"
    assert created["disabled_reason"] is None
    assert created["description"] == "orders"
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 43
    # …which no later read shows…
    detail = api_client.get(f"{URL}/{created['id']}").json()
    assert "secret" not in detail
    listed = api_client.get(URL).json()
    assert listed["object"] == "list" and listed["has_more"] is False
    assert [e["id"] for e in listed["data"]] == [created["id"]]
    assert "secret" not in listed["data"][0]
    # …and the database holds it only as AES-GCM ciphertext that opens to it.
    row = WebhookSecret.objects.get(endpoint_id=created["id"])
    assert secret_open(row) == secret
    dump = _dump_database()
    assert secret not in dump
    assert secret.removeprefix("whsec_") not in dump
    assert AuditEvent.objects.filter(
        action="webhook_endpoint.create", object_id=created["id"]
    ).exists()


def test_an_idempotent_retry_of_create_replays_without_the_secret(
    api_client: APIClient, receiver: Receiver
) -> None:
    key = str(uuid.uuid4())
    body = {"url": receiver.url, "enabled_events": ["*"]}

    first = api_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = api_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == again.status_code == 201
    assert first.json()["secret"].startswith("whsec_")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "secret": None}
    assert WebhookEndpoint.objects.count() == 1
    stored = IdempotencyKey.objects.get(key=key)
    assert first.json()["secret"] not in repr(stored.response_body)


def test_a_ciphertext_moved_to_another_endpoint_does_not_open(
    api_client: APIClient, receiver: Receiver
) -> None:
    one = _create(api_client, receiver)
    two = _create(api_client, receiver)
    row_one = WebhookSecret.objects.get(endpoint_id=one["id"])
    row_two = WebhookSecret.objects.get(endpoint_id=two["id"])

    row_two.ciphertext, row_two.nonce = row_one.ciphertext, row_one.nonce
    row_two.data_key_id = row_one.data_key_id

    with pytest.raises(KeyDecryptionFailed):
        secret_open(row_two)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"enabled_events": ["charge.succeeded"]}, "url", "required"),
        ({"url": "RECEIVER", "enabled_events": []}, "enabled_events", "empty"),
        (
            {"url": "RECEIVER", "enabled_events": ["charge.exploded"]},
            "enabled_events",
            "invalid_event_type",
        ),
        (
            {"url": "RECEIVER", "enabled_events": "charge.succeeded"},
            "enabled_events",
            "parameter_invalid_type",
        ),
        (
            {"url": "RECEIVER", "enabled_events": ["*"], "description": "4242 4242 4242 4242"},
            "description",
            "card_data_not_allowed",
        ),
        (
            {"url": "RECEIVER?card=4242424242424242", "enabled_events": ["*"]},
            "url",
            "card_data_not_allowed",
        ),
    ],
    ids=[
        "no-url",
        "no-events",
        "unknown-event",
        "events-not-a-list",
        "pan-in-description",
        "pan-in-url",
    ],
)
def test_invalid_input_is_a_specific_problem_that_changes_nothing(
    api_client: APIClient, receiver: Receiver, body: dict, field: str, code: str
) -> None:
    body = {
        k: (v.replace("RECEIVER", receiver.url) if isinstance(v, str) else v)
        for k, v in body.items()
    }

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert {"field": field, "code": code} == {k: problem["errors"][0][k] for k in ("field", "code")}
    assert_no_card_number(response.content.decode())
    assert not WebhookEndpoint.objects.exists()


def test_enabled_events_are_deduplicated_and_star_means_all(
    api_client: APIClient, receiver: Receiver
) -> None:
    some = _create(
        api_client,
        receiver,
        enabled_events=["token.revoked", "charge.succeeded", "token.revoked"],
    )
    every = _create(api_client, receiver, enabled_events=["charge.failed", "*"])

    assert some["enabled_events"] == ["charge.succeeded", "token.revoked"]
    assert every["enabled_events"] == ["*"]


def test_the_number_of_endpoints_is_limited(
    api_client: APIClient, receiver: Receiver, settings: SettingsWrapper
) -> None:
    settings.WEBHOOK_MAX_ENDPOINTS = 2
    _create(api_client, receiver)
    _create(api_client, receiver)

    response = api_client.post(URL, {"url": receiver.url, "enabled_events": ["*"]}, format="json")

    assert response.status_code == 422
    assert response.json()["code"] == "webhook_endpoint_limit"
    assert WebhookEndpoint.objects.count() == 2


def test_another_merchants_endpoint_is_not_found_and_untouched(
    api_client: APIClient, receiver: Receiver
) -> None:
    other = MerchantFactory.create(name="Other")
    theirs = _create_for(other, receiver)

    read = api_client.get(f"{URL}/{theirs}")
    deleted = api_client.delete(f"{URL}/{theirs}")
    rolled = api_client.post(f"{URL}/{theirs}/roll_secret")
    updated = api_client.post(f"{URL}/{theirs}", {"disabled": True}, format="json")

    assert {r.status_code for r in (read, deleted, rolled, updated)} == {404}
    assert read.json()["code"] == "webhook_endpoint_not_found"
    endpoint = WebhookEndpoint.objects.get(pk=theirs)
    assert endpoint.deleted_at is None and endpoint.status == "enabled"
    assert WebhookSecret.objects.filter(endpoint=endpoint).count() == 1
    assert api_client.get(URL).json()["data"] == []


def _create_for(merchant: Merchant, receiver: Receiver) -> str:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(merchant=merchant).secret}")
    return str(_create(client, receiver)["id"])


def test_delete_cancels_pending_deliveries_and_destroys_the_secrets(
    api_client: APIClient, receiver: Receiver, merchant: Merchant, token: Token
) -> None:
    created = _create(api_client, receiver, enabled_events=["*"])
    event_record(event_type="token.revoked", obj=token)
    assert WebhookDelivery.objects.get().status == "pending"

    response = api_client.delete(f"{URL}/{created['id']}")

    assert response.status_code == 200
    assert response.json() == {
        "id": created["id"],
        "object": "webhook_endpoint",
        "livemode": False,
        "deleted": True,
    }
    assert api_client.get(f"{URL}/{created['id']}").status_code == 404
    assert not WebhookSecret.objects.exists()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "canceled" and delivery.next_attempt_at is None
    # events after the delete create no delivery for it
    event_record(event_type="token.revoked", obj=token)
    assert WebhookDelivery.objects.count() == 1


def test_update_changes_events_and_url_and_pauses_and_resumes(
    api_client: APIClient, receiver: Receiver, token: Token, clock: SimClock
) -> None:
    created = _create(api_client, receiver)
    path = f"{URL}/{created['id']}"

    changed = api_client.post(path, {"enabled_events": ["token.revoked"]}, format="json")
    paused = api_client.post(path, {"disabled": True}, format="json")
    event_record(event_type="token.revoked", obj=token)  # not queued while paused
    resumed = api_client.post(path, {"disabled": False}, format="json")
    event_record(event_type="token.revoked", obj=token)
    refused = api_client.post(path, {"url": "https://10.0.0.1/"}, format="json")

    assert changed.json()["enabled_events"] == ["token.revoked"]
    assert (paused.json()["status"], paused.json()["disabled_reason"]) == ("disabled", "requested")
    assert (resumed.json()["status"], resumed.json()["disabled_reason"]) == ("enabled", None)
    assert WebhookDelivery.objects.count() == 1
    assert refused.status_code == 400
    assert refused.json()["code"] == "url_forbidden_address"
    assert WebhookEndpoint.objects.get(pk=created["id"]).url == receiver.url


def test_roll_returns_a_new_secret_and_both_sign_for_24_hours(
    api_client: APIClient, receiver: Receiver, clock: SimClock
) -> None:
    created = _create(api_client, receiver)
    old = created["secret"]

    rolled = api_client.post(f"{URL}/{created['id']}/roll_secret")

    assert rolled.status_code == 200
    new = rolled.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert secrets_valid(endpoint_id=created["id"], now=clock.now) == [new, old]
    assert secrets_valid(endpoint_id=created["id"], now=clock.advance(hours=23, minutes=59)) == [
        new,
        old,
    ]
    assert secrets_valid(endpoint_id=created["id"], now=clock.advance(minutes=1)) == [new]


def test_rolling_twice_keeps_at_most_two_secrets(
    api_client: APIClient, receiver: Receiver, clock: SimClock
) -> None:
    created = _create(api_client, receiver)
    first = api_client.post(f"{URL}/{created['id']}/roll_secret").json()["secret"]
    second = api_client.post(f"{URL}/{created['id']}/roll_secret").json()["secret"]

    assert secrets_valid(endpoint_id=created["id"], now=clock.now) == [second, first]
    assert WebhookSecret.objects.filter(endpoint_id=created["id"]).count() == 2


def test_the_endpoints_api_needs_an_api_key(receiver: Receiver, db: None) -> None:
    anonymous = APIClient()

    responses = [
        anonymous.get(URL),
        anonymous.post(URL, {"url": receiver.url, "enabled_events": ["*"]}, format="json"),
        anonymous.get("/api/v1/events"),
    ]

    assert {r.status_code for r in responses} == {401}
    assert not WebhookEndpoint.objects.exists()
