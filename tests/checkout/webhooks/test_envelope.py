"""The event envelope: the written-out rendering says exactly what DRF's generic rendering of
the declared fields (the schema) says, key order and value types included."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from itertools import product
from typing import Any

from rest_framework import serializers

from checkout.webhooks.models import EventType
from checkout.webhooks.serializers import EventDocumentSerializer

MOMENTS = (
    datetime(2030, 1, 31, 10, 0, 0, 123456, tzinfo=UTC),
    datetime(2030, 1, 31, 10, 0, 0, tzinfo=UTC),
    datetime(2030, 6, 1, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
)


def _documents() -> list[dict[str, Any]]:
    return [
        {
            "id": "evt_3xq9ZbL0kq2rT8yWcN4vQa",
            "object": "event",
            "type": event_type,
            "api_version": "v1",
            "created": created,
            "livemode": livemode,
            "data": {"object": {"id": "ch_1", "amount": 1999, "metadata": {"a": "b"}}},
        }
        for event_type, created, livemode in product(
            [*EventType, *EventType.values], MOMENTS, (True, False)
        )
    ]


def test_the_written_out_envelope_is_the_generic_one() -> None:
    rendering = EventDocumentSerializer()
    documents = _documents()
    assert len(documents) > 50
    for document in documents:
        fast = rendering.to_representation(document)
        generic = serializers.Serializer.to_representation(rendering, document)
        assert json.dumps(fast) == json.dumps(generic), document["type"]
        assert [type(v) for v in fast.values()] == [type(v) for v in generic.values()]
        assert list(fast) == list(rendering.fields)
