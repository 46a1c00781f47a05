"""``POST /api/v1/forward`` against a real HTTPS destination on 127.0.0.1: the card arrives
exactly as templated, the merchant's answer, the logs and the database hold no card number,
and every way out of the registered destination is refused before anything is revealed."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from checkout.relay.models import Forward, ForwardDestination
from checkout.relay.services import RELAY_ACTOR
from monitoring.audit.models import AuditEvent
from tests.checkout.relay.conftest import PARTNER
from tests.checkout.relay.destination import Destination
from tests.checkout.webhooks.conftest import FakeDns, SocketGuard
from tests.factories import IssuedKeyFactory
from tests.support.leaks import assert_no_card_number
from vault.models import ApiKey, Merchant, Token

URL = "/api/v1/forward"
NUMBER = "4242424242424242"  # the token fixture's card (tests.factories.TokenFactory)
TEMPLATE = '{"pan": "{{card.number}}", "exp": "{{ card.exp_month }}/{{card.exp_year}}"}'


def _forward(client: APIClient, token: Token, destination: Destination, **extra: Any) -> Any:
    headers = extra.pop("_headers", {})
    body = {
        "token": token.id,
        "url": destination.url("/v1/cards/store?ref=42"),
        "headers": {"Authorization": "Bearer partner-secret"},
        "body": TEMPLATE,
        "purpose": "card on file at Partner",
        **extra,
    }
    return client.post(URL, body, format="json", headers=headers)


def _reveals(token: Token) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="token.reveal", object_id=token.id))


def _dump_database() -> str:
    """Every row of every table, as text (what a stolen backup would show)."""
    lines: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (introspected names)
            lines.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(lines)


@pytest.mark.django_db
def test_the_card_reaches_the_destination_exactly_as_templated(
    api_client: APIClient,
    token: Token,
    partner: Destination,
    registered: ForwardDestination,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a registered destination and a template asking for number and expiry
    caplog.set_level(logging.DEBUG)
    # when the merchant forwards the token to a path under the prefix
    response = _forward(api_client, token, partner)
    # then the destination got exactly the filled template, once, with the merchant's header
    assert response.status_code == 201, response.json()
    assert len(partner.requests) == 1
    arrived = partner.requests[0]
    assert arrived.method == "POST"
    assert arrived.path == "/v1/cards/store?ref=42"
    assert arrived.body == b'{"pan": "4242424242424242", "exp": "12/2034"}'
    assert arrived.headers["Authorization"] == "Bearer partner-secret"
    assert arrived.headers["Host"] == f"{PARTNER}:{partner.port}"
    assert arrived.headers["Content-Type"] == "application/json"
    # and the merchant sees the destination's answer with the card number masked
    answer = response.json()
    assert answer["status"] == "completed"
    assert answer["destination"] == registered.id
    assert answer["response"]["status"] == 201
    assert json.loads(answer["response"]["body"]) == {
        "received": {"pan": "[REDACTED-PAN]", "exp": "12/2034"}
    }
    assert NUMBER not in response.content.decode()
    # and the reveal is audited with the forward, the destination and the purpose
    (reveal,) = _reveals(token)
    assert reveal.actor == RELAY_ACTOR
    assert answer["id"] in reveal.data["purpose"]
    assert registered.id in reveal.data["purpose"]
    assert "card on file at Partner" in reveal.data["purpose"]
    sent = AuditEvent.objects.get(action="forward.send", object_id=answer["id"])
    assert sent.data["destination"] == registered.id
    # and no card number is in the logs or anywhere in the database
    assert NUMBER not in caplog.text
    dump = _dump_database()
    assert NUMBER not in dump
    assert "4242 4242 4242 4242" not in dump
    assert "partner-secret" not in dump


@pytest.mark.django_db
def test_a_retry_with_the_same_key_replays_and_sends_nothing_more(
    api_client: APIClient, token: Token, partner: Destination, registered: ForwardDestination
) -> None:
    key = str(uuid.uuid4())
    first = _forward(api_client, token, partner, _headers={"Idempotency-Key": key})
    again = _forward(api_client, token, partner, _headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert len(partner.requests) == 1
    assert Forward.objects.count() == 1
    assert len(_reveals(token)) == 1


def _assert_nothing_happened(partner: Destination, token: Token) -> None:
    assert partner.requests == []
    assert Forward.objects.count() == 0
    assert _reveals(token) == []


@pytest.mark.django_db
def test_an_unregistered_host_is_refused(
    api_client: APIClient,
    token: Token,
    partner: Destination,
    registered: ForwardDestination,
    fake_dns: FakeDns,
) -> None:
    fake_dns.set("elsewhere.example", ["127.0.0.1"])
    response = _forward(
        api_client, token, partner, url=f"https://elsewhere.example:{partner.port}/v1/cards"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "destination_not_registered"
    _assert_nothing_happened(partner, token)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/v1/other",
        "/v1/cardsX",
        "/v1/cards/../admin",
        "/v1/cards/%2e%2e/admin",
        "/v1/cards/..%2Fadmin",
        "/v1/cards//x",
        "/",
    ],
)
def test_a_path_outside_the_prefix_is_refused(
    api_client: APIClient,
    token: Token,
    partner: Destination,
    registered: ForwardDestination,
    path: str,
) -> None:
    response = _forward(api_client, token, partner, url=partner.url(path))
    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "destination_path_refused"
    _assert_nothing_happened(partner, token)


@pytest.mark.django_db
def test_a_field_the_destination_may_not_receive_is_refused(
    api_client: APIClient, token: Token, partner: Destination, registered: ForwardDestination
) -> None:
    response = _forward(api_client, token, partner, body='{"holder": "{{card.name}}"}')
    assert response.status_code == 403
    assert response.json()["code"] == "card_field_refused"
    _assert_nothing_happened(partner, token)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"cvc": "{{card.cvc}}"}', "template_placeholder_unknown"),
        ('{"pan": "{{card.pan}}"}', "template_placeholder_unknown"),
        ('{"pan": "{{card.number"}', "template_invalid"),
    ],
)
def test_a_template_that_is_not_valid_is_refused(
    api_client: APIClient,
    token: Token,
    partner: Destination,
    registered: ForwardDestination,
    body: str,
    code: str,
) -> None:
    response = _forward(api_client, token, partner, body=body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    _assert_nothing_happened(partner, token)


@pytest.mark.django_db
def test_a_redirect_is_not_followed(
    api_client: APIClient, token: Token, partner: Destination, registered: ForwardDestination
) -> None:
    # given a destination that answers with a redirect to a path nobody vetted
    partner.script.append(("redirect", partner.url("/steal")))
    response = _forward(api_client, token, partner)
    # then the forward failed, the redirect was not followed, and nothing of it is returned
    assert response.status_code == 201
    answer = response.json()
    assert answer["status"] == "failed"
    assert answer["failure_code"] == "destination_redirected"
    assert answer["response"] is None
    assert [r.path for r in partner.requests] == ["/v1/cards/store?ref=42"]


@pytest.mark.django_db
def test_a_destination_resolving_to_a_private_address_is_refused(
    api_client: APIClient,
    token: Token,
    partner: Destination,
    registered: ForwardDestination,
    fake_dns: FakeDns,
    socket_guard: SocketGuard,
) -> None:
    # given the registered host now resolves to a private address (or mixes one in)
    fake_dns.set(PARTNER, ["10.0.0.7"])
    response = _forward(api_client, token, partner)
    # then it is refused before any connection, reveal or record
    assert response.status_code == 422
    assert response.json()["code"] == "destination_address_refused"
    assert socket_guard.toward("10.0.0.7") == []
    _assert_nothing_happened(partner, token)


@pytest.mark.django_db
def test_another_method_than_the_destinations_is_refused(
    api_client: APIClient, token: Token, partner: Destination, registered: ForwardDestination
) -> None:
    response = _forward(api_client, token, partner, method="PUT")
    assert response.status_code == 403
    assert response.json()["code"] == "destination_method_refused"
    _assert_nothing_happened(partner, token)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [{"Host": "evil.example"}, {"Transfer-Encoding": "chunked"}, {"X-Card": "{{card.number}}"}],
)
def test_headers_that_would_reframe_the_request_or_carry_the_card_are_refused(
    api_client: APIClient,
    token: Token,
    partner: Destination,
    registered: ForwardDestination,
    headers: dict[str, str],
) -> None:
    response = _forward(api_client, token, partner, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "forward_header_refused"
    _assert_nothing_happened(partner, token)


@pytest.mark.django_db
def test_a_destination_of_the_other_mode_is_not_registered_for_this_key(
    merchant: Merchant, token: Token, partner: Destination, registered: ForwardDestination
) -> None:
    live_key = IssuedKeyFactory.create(merchant=merchant, mode=ApiKey.Mode.LIVE)
    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Bearer {live_key.secret}")
    response = _forward(live, token, partner)
    assert response.status_code == 403
    assert response.json()["code"] == "destination_not_registered"
    _assert_nothing_happened(partner, token)


@pytest.mark.django_db
def test_a_destination_that_never_answers_times_out(
    api_client: APIClient,
    token: Token,
    partner: Destination,
    registered: ForwardDestination,
    settings: Any,
) -> None:
    settings.RELAY_TIMEOUT_SECONDS = 0.3
    partner.script.append("hang")
    response = _forward(api_client, token, partner)
    assert response.status_code == 201
    assert response.json()["status"] == "failed"
    assert response.json()["failure_code"] == "timeout"


@pytest.mark.django_db
def test_a_forward_is_read_back_by_its_merchant_only(
    api_client: APIClient,
    token: Token,
    partner: Destination,
    registered: ForwardDestination,
) -> None:
    forward_id = _forward(api_client, token, partner).json()["id"]
    mine = api_client.get(f"/api/v1/forwards/{forward_id}")
    assert mine.status_code == 200
    assert mine.json()["status"] == "completed"
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {IssuedKeyFactory.create().secret}")
    assert other.get(f"/api/v1/forwards/{forward_id}").status_code == 404


@pytest.mark.django_db
def test_metadata_is_kept_with_the_forward_and_bad_metadata_sends_nothing(
    api_client: APIClient, token: Token, partner: Destination, registered: ForwardDestination
) -> None:
    kept = _forward(api_client, token, partner, metadata={"order": "1042"})
    refused = _forward(api_client, token, partner, metadata={"note": "4242 4242 4242 4242"})

    assert kept.status_code == 201 and kept.json()["metadata"] == {"order": "1042"}
    read = api_client.get(f"/api/v1/forwards/{kept.json()['id']}").json()
    assert read["metadata"] == {"order": "1042"}
    assert Forward.objects.get(pk=read["id"]).metadata == {"order": "1042"}
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "metadata"
    assert_no_card_number(refused.content.decode())
    # only the first forward reached the partner or revealed the card
    assert len(partner.requests) == 1 and len(_reveals(token)) == 1
    assert Forward.objects.count() == 1
