"""The charge as the API and its events show it: the written-out rendering says exactly what
DRF's generic rendering of the declared fields (the schema) says, key order included."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any

import pytest
from rest_framework import serializers

from checkout.payments.models import Charge
from checkout.payments.serializers import ChargeOutputSerializer
from vault.models import Token

CREATED = datetime(2030, 1, 31, 10, 0, 0, 123456, tzinfo=UTC)


def _generic(charge: Charge) -> Any:
    return serializers.Serializer.to_representation(ChargeOutputSerializer(), charge)


def _charges(token: Token) -> list[Charge]:
    charges = []
    for status, method, failure, subscription, metadata, refunded in product(
        Charge.Status.values,
        Charge.CaptureMethod.values,
        ("", "card_declined"),
        (None, "sub_5HkqP0x2GQw8sVnR1dLmZc"),
        ({}, {"order_id": "1042", "note": ""}),
        (0, 500),
    ):
        captured = 1999 if status == Charge.Status.SUCCEEDED else 0
        charges.append(
            Charge(
                id="ch_3xq9ZbL0kq2rT8yWcN4vQa",
                merchant=token.merchant,
                livemode=token.livemode,
                token=token,
                amount=1999,
                currency="EUR",
                description="Order #1042" if metadata else "",
                metadata=metadata,
                status=status,
                capture_method=method,
                failure_code=failure,
                failure_message="Declined." if failure else "",
                amount_captured=captured,
                amount_refunded=min(refunded, captured),
                authorization_expires_at=(
                    CREATED + timedelta(days=7)
                    if status == Charge.Status.REQUIRES_CAPTURE
                    else None
                ),
                subscription_id=subscription,
                created_at=CREATED,
            )
        )
    return charges


def test_every_declared_field_is_rendered_in_order(token: Token) -> None:
    charge = _charges(token)[0]
    assert list(ChargeOutputSerializer().to_representation(charge)) == list(
        ChargeOutputSerializer().fields
    )


@pytest.mark.django_db
def test_the_written_out_rendering_is_the_generic_one(token: Token) -> None:
    rendering = ChargeOutputSerializer()
    charges = _charges(token)
    assert len(charges) > 100
    for charge in charges:
        fast, generic = rendering.to_representation(charge), _generic(charge)
        assert json.dumps(fast) == json.dumps(generic), charge.status
        assert [type(v) for v in fast.values()] == [type(v) for v in generic.values()]
