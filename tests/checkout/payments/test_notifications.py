"""``POST /processors/adyen/notifications``: Adyen's HMAC (checked against Adyen's documented
example values), forged and unsigned items refused, each item recorded once in any order. The
items are built from Adyen's webhooks spec (``Webhooks-v1.json``, validated by the same
OpenAPI validator library as the Checkout fake) and signed as Adyen signs them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from checkout.payments.processors.adyen_hmac import item_signature, item_verify, signing_string
from checkout.payments.processors.models import AdyenNotification
from monitoring.audit.models import AuditEvent
from tests.checkout.payments.processors.adyen_fake import (
    HMAC_KEY,
    notification_body,
    notification_errors,
)
from vault.models import Token

URL = "/processors/adyen/notifications"
# Adyen's documented example (its HMAC validation docs and API libraries' tests).
EXAMPLE_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
EXAMPLE_ITEM: dict[str, Any] = {
    "pspReference": "7914073381342284",
    "merchantAccountCode": "TestMerchant",
    "merchantReference": "TestPayment-1407325143704",
    "amount": {"value": 1130, "currency": "EUR"},
    "eventCode": "AUTHORISATION",
    "success": "true",
}
EXAMPLE_SIGNATURE = "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="


def test_the_signature_matches_adyens_documented_example() -> None:
    assert signing_string(EXAMPLE_ITEM) == (
        "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true"
    )
    assert item_signature(EXAMPLE_ITEM, EXAMPLE_KEY) == EXAMPLE_SIGNATURE
    signed = {**EXAMPLE_ITEM, "additionalData": {"hmacSignature": EXAMPLE_SIGNATURE}}
    assert item_verify(signed, EXAMPLE_KEY)
    assert not item_verify({**signed, "amount": {"value": 1131, "currency": "EUR"}}, EXAMPLE_KEY)
    assert not item_verify(EXAMPLE_ITEM, EXAMPLE_KEY)  # unsigned


def _item(
    psp: str, event: str, reference: str, *, original: str = "", key: str = EXAMPLE_KEY
) -> dict:
    """One item as Adyen posts it: built and validated against Adyen's webhooks spec, signed
    with ``key`` as Adyen signs."""
    body = notification_body(
        event,
        psp=psp,
        original=original,
        reference=reference,
        amount={"value": 1000, "currency": "EUR"},
        key=key,
    )
    item: dict = body["notificationItems"][0]["NotificationRequestItem"]
    return item


def _post(client: Client, *items: dict) -> Any:
    body = {"live": "false", "notificationItems": [{"NotificationRequestItem": i} for i in items]}
    return client.post(URL, json.dumps(body), content_type="application/json")


@pytest.fixture(autouse=True)
def _hmac_key(settings: Any) -> None:
    settings.ADYEN_HMAC_KEY = EXAMPLE_KEY


@pytest.fixture
def charge_id(token: Token, api_client: Any) -> str:
    response = api_client.post(
        "/api/v1/charges", {"token": token.id, "amount": 1000, "currency": "EUR"}, format="json"
    )
    assert response.status_code == 201
    return str(response.json()["id"])


@pytest.mark.django_db
def test_a_valid_notification_is_accepted_recorded_and_audited(charge_id: str) -> None:
    response = _post(
        Client(),
        _item("PSPCAPTURE000001", "CAPTURE", f"{charge_id}:capture", original="PSPAUTH00000001"),
    )
    assert response.status_code == 200
    assert response.content == b"[accepted]"
    (row,) = AdyenNotification.objects.all()
    assert (row.event_code, row.charge_id, row.success) == ("CAPTURE", charge_id, True)
    audit = AuditEvent.objects.get(action="processor.notification", object_id=charge_id)
    assert audit.reason == "CAPTURE"


@pytest.mark.django_db
def test_a_forged_or_unsigned_item_refuses_the_whole_batch(charge_id: str) -> None:
    good = _item("PSP0000000000001", "CAPTURE", charge_id)
    forged = _item("PSP0000000000002", "REFUND", charge_id, key="00" * 32)
    unsigned = {
        k: v
        for k, v in _item("PSP0000000000003", "REFUND", charge_id).items()
        if k != "additionalData"
    }
    for bad in (forged, unsigned):
        response = _post(Client(), good, bad)
        assert response.status_code == 401
        assert response.json()["code"] == "notification_refused"
    assert AdyenNotification.objects.count() == 0
    assert AuditEvent.objects.filter(action="processor.notification", outcome="denied").count() == 2


@pytest.mark.django_db
def test_a_replayed_item_changes_nothing(charge_id: str) -> None:
    item = _item("PSP0000000000010", "CAPTURE", charge_id)
    assert _post(Client(), item).content == b"[accepted]"
    assert _post(Client(), item).content == b"[accepted]"
    assert AdyenNotification.objects.count() == 1
    assert (
        AuditEvent.objects.filter(action="processor.notification", outcome="success").count() == 1
    )


@pytest.mark.django_db
def test_items_out_of_order_are_each_recorded_once(charge_id: str) -> None:
    refund = _item("PSP0000000000021", "REFUND", charge_id, original="PSP0000000000020")
    capture = _item("PSP0000000000020", "CAPTURE", charge_id, original="PSP0000000000019")
    _post(Client(), refund)
    _post(Client(), capture, refund)
    assert sorted(AdyenNotification.objects.values_list("event_code", flat=True)) == [
        "CAPTURE",
        "REFUND",
    ]


@pytest.mark.django_db
def test_a_charge_we_do_not_know_is_accepted_and_recorded_without_one() -> None:
    response = _post(Client(), _item("PSP0000000000030", "AUTHORISATION", "ch_doesnotexist"))
    assert response.content == b"[accepted]"
    assert AdyenNotification.objects.get().charge_id == ""


@pytest.mark.django_db
def test_without_a_key_every_notification_is_refused(settings: Any) -> None:
    settings.ADYEN_HMAC_KEY = ""
    assert _post(Client(), _item("PSP0000000000040", "CAPTURE", "x")).status_code == 401
    assert AdyenNotification.objects.count() == 0


@pytest.mark.django_db
def test_while_the_key_rotates_items_signed_with_either_key_verify(
    charge_id: str, settings: Any
) -> None:
    """Adyen signs with one key at a time and retries older notifications for days: during a
    rotation a batch may mix items signed with the new key and with the previous one."""
    new_key, old_key, retired = "AB" * 32, EXAMPLE_KEY, "CD" * 32
    settings.ADYEN_HMAC_KEY = new_key
    settings.ADYEN_HMAC_PREVIOUS_KEYS = [old_key]
    fresh = _item("PSP0000000000061", "CAPTURE", charge_id, key=new_key)
    retried = _item("PSP0000000000062", "REFUND", charge_id, key=old_key)
    stale = _item("PSP0000000000063", "REFUND", charge_id, key=retired)

    assert _post(Client(), fresh, retried).content == b"[accepted]"
    assert _post(Client(), fresh, stale).status_code == 401  # a key no longer listed
    settings.ADYEN_HMAC_PREVIOUS_KEYS = []  # rotation over: the old key is refused
    assert (
        _post(Client(), _item("PSP0000000000064", "REFUND", charge_id, key=old_key)).status_code
        == 401
    )
    assert sorted(AdyenNotification.objects.values_list("psp_reference", flat=True)) == [
        "PSP0000000000061",
        "PSP0000000000062",
    ]


@pytest.mark.parametrize(
    "event",
    ["AUTHORISATION", "CAPTURE", "CAPTURE_FAILED", "CANCELLATION", "REFUND", "REFUND_FAILED"],
)
def test_every_event_we_apply_is_built_valid_for_adyens_webhooks_spec(event: str) -> None:
    body = notification_body(
        event,
        psp="PSP0000000000050",
        original="" if event == "AUTHORISATION" else "PSP0000000000049",
        reference="ch_x:capture",
        amount={"value": 1000, "currency": "EUR"},
        success=event != "CAPTURE_FAILED",
        reason="" if event != "CAPTURE_FAILED" else "rejected by the scheme",
        key=HMAC_KEY,
    )
    assert notification_errors(body) == []
    (wrapper,) = body["notificationItems"]
    assert item_verify(wrapper["NotificationRequestItem"], HMAC_KEY)
    assert not item_verify(wrapper["NotificationRequestItem"], EXAMPLE_KEY)


def test_the_webhooks_spec_validator_has_teeth() -> None:
    body = notification_body(
        "CAPTURE",
        psp="PSP0000000000060",
        reference="ch_x:capture",
        amount={"value": 1000, "currency": "EUR"},
    )
    item = body["notificationItems"][0]["NotificationRequestItem"]
    del item["merchantAccountCode"]  # required by the spec
    item["cardNumber"] = "4111111111111111"  # no such field in a capture item
    item["amount"]["value"] = "1000"  # an integer in the spec
    errors = " ".join(notification_errors(body))
    assert "merchantAccountCode" in errors
    assert "cardNumber" in errors
    assert "'1000' is not of type 'integer'" in errors
    with pytest.raises(ValueError, match="not a notification Adyen sends"):
        notification_body(
            "NOT_AN_EVENT_CODE",
            psp="P",
            reference="r",
            amount={"value": 1, "currency": "EUR"},
        )
