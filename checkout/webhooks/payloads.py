"""What a webhook says: the event document, with the object as its domain shows it.

``data.object`` is rendered by the same serializer of the object's own domain that the API
answers with (``checkout.payments.serializers``, ``vault.serializers``…), so a webhook says
exactly what ``GET /api/v1/<object>/<id>`` said at that moment: token metadata (brand, last4,
expiry, fingerprint), never a card number or CVC. The envelope is webhooks' own serializer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.db.models import Model

from checkout.billing.models import Subscription
from checkout.billing.serializers import SubscriptionOutputSerializer
from checkout.customers.models import Customer, CustomerCard
from checkout.customers.serializers import CustomerCardOutputSerializer, CustomerOutputSerializer
from checkout.payments.models import Charge, Refund
from checkout.payments.serializers import ChargeOutputSerializer, RefundOutputSerializer
from checkout.sessions.models import CheckoutSession
from checkout.sessions.serializers import CheckoutSessionOutputSerializer
from checkout.webhooks.serializers import EventDocumentSerializer
from monitoring.observability.redaction import redact_text
from vault.models import Token
from vault.serializers import TokenOutputSerializer

API_VERSION = "v1"

# One serializer instance per type, its ``to_representation`` reused: building a DRF
# serializer's fields anew for every event was a third of the cost of recording one.
_OBJECTS: dict[type[Model], tuple[str, Any]] = {
    Charge: ("charge", ChargeOutputSerializer()),
    Refund: ("refund", RefundOutputSerializer()),
    Subscription: ("subscription", SubscriptionOutputSerializer()),
    CheckoutSession: ("checkout.session", CheckoutSessionOutputSerializer()),
    Token: ("token", TokenOutputSerializer()),
    Customer: ("customer", CustomerOutputSerializer()),
    CustomerCard: ("customer_card", CustomerCardOutputSerializer()),
}
_ENVELOPE = EventDocumentSerializer()


def object_type(obj: Model) -> str:
    return str(_OBJECTS[type(obj)][0])


def object_snapshot(obj: Model) -> dict[str, Any]:
    """``obj`` as the API shows it, every string passed through the redactor once more."""
    render: Callable[[Model], Any] = _OBJECTS[type(obj)][1].to_representation
    snapshot: dict[str, Any] = _scrub(render(obj))
    return snapshot


def _scrub(value: Any) -> Any:
    """The rendered object as plain JSON values (what ``json.dumps(..., default=str)`` would
    make of it, without the text round trip), every string through the redactor: belt and
    braces, a card number that slipped past input validation (which refuses them) would leave
    masked."""
    kind = type(value)  # exact types first: a rendered object is made of these
    if kind is str:
        return redact_text(value)
    if kind is dict:
        return {k if type(k) is str else str(k): _scrub(v) for k, v in value.items()}
    if value is None or kind is int or kind is bool:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else str(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return redact_text(str(value))


def event_document(
    *,
    event_id: str,
    event_type: str,
    created: datetime,
    livemode: bool,
    snapshot: dict[str, Any],
) -> str:
    """The JSON text sent to endpoints (and stored: its key order is part of the contract)."""
    document = _ENVELOPE.to_representation(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "api_version": API_VERSION,
            "created": created,
            "livemode": livemode,
            "data": {"object": snapshot},
        }
    )
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
