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

    def to_representation(self, document: Any) -> dict[str, Any]:
        """The declared fields, written out: every event renders one, and DRF's generic walk
        over them cost as much as rendering the object inside. The declarations stay the
        schema; a test holds this equal to the generic rendering."""
        return {
            "id": str(document["id"]),
            "object": str(document["object"]),
            "type": str(document["type"]),  # a TextChoices member is its value
            "api_version": str(document["api_version"]),
            "created": self.fields["created"].to_representation(document["created"]),
            "livemode": bool(document["livemode"]),
            "data": {str(key): value for key, value in document["data"].items()},
        }
