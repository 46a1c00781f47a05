"""The webhook payload's own serializer: the event document sent to endpoints and answered
by the events API, byte for byte (``payloads.py`` builds it)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from checkout.webhooks.models import EventType


class EventDocumentSerializer(serializers.Serializer[Any]):
    """An event as sent to endpoints; the events API answers the stored document as is."""

    id = serializers.CharField()
    object = serializers.CharField(help_text='Always "event".')
    type = serializers.ChoiceField(choices=EventType.choices)
    api_version = serializers.CharField()
    created = serializers.DateTimeField()
    livemode = serializers.BooleanField(help_text="true in live mode, false in test mode.")
    data = serializers.DictField(  # type: ignore[assignment]
        help_text="`{object: …}`: the object as the API showed it then."
    )
