"""Webhook endpoints: create, update, delete, roll the signing secret.

An endpoint's URL is checked when it is saved (syntax, https, and every address its host
resolves to must be public: ``addresses.py``) and again before every delivery. Its signing
secret is returned once, by create and roll, and otherwise exists only encrypted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from checkout.clock import clock_now
from checkout.payments.validation import CARD_DATA_MESSAGE, text_validate
from checkout.webhooks.models import EventType, WebhookDelivery, WebhookEndpoint, WebhookSecret
from monitoring.audit.services import audit_record
from payments_site.kernel.cards import has_card_data
from payments_site.kernel.errors import DomainError, FieldError, InvalidInput
from payments_site.kernel.idempotency import effect_bind
from vault.models import Merchant

from .addresses import target_resolve, webhook_url_validate
from .secrets import secret_generate, secret_store

ALL_EVENTS = "*"


class WebhookEndpointNotFound(DomainError):
    code = "webhook_endpoint_not_found"


class WebhookEndpointLimit(DomainError):
    code = "webhook_endpoint_limit"


def enabled_events_validate(value: object) -> list[str]:
    """A non-empty list of known event types, or ``["*"]`` for all (also future ones)."""

    def fail(message: str) -> InvalidInput:
        return InvalidInput(
            message, errors=[FieldError("enabled_events", "invalid_event_type", message)]
        )

    if not isinstance(value, list | tuple) or not value:
        raise fail('Give a list of event types, e.g. ["charge.succeeded"], or ["*"] for all.')
    if len(value) > len(EventType.values) + 1:
        raise fail("Too many event types.")
    unknown = [v for v in value if not isinstance(v, str) or v not in (*EventType.values, "*")]
    if unknown:
        shown = ", ".join(repr(v)[:60] for v in unknown[:3])
        raise fail(f"Unknown event type(s): {shown}. Known: {', '.join(EventType.values)}.")
    if ALL_EVENTS in value:
        return [ALL_EVENTS]
    return sorted(set(value), key=list(EventType.values).index)


def _url_check(url: object) -> str:
    parsed = webhook_url_validate(url)
    if has_card_data(parsed.url):
        raise InvalidInput(
            CARD_DATA_MESSAGE,
            errors=[FieldError("url", "card_data_not_allowed", CARD_DATA_MESSAGE)],
        )
    target_resolve(parsed)  # refuses private, loopback, metadata… (WebhookUrlRefused, 400)
    return parsed.url


def _endpoint_locked(*, merchant: Merchant, endpoint_id: str) -> WebhookEndpoint:
    """The merchant's live endpoint, locked for the caller's transaction; else 404."""
    endpoint = (
        WebhookEndpoint.objects.owned_by(merchant)
        .select_for_update()
        .filter(pk=endpoint_id, deleted_at__isnull=True)
        .first()
    )
    if endpoint is None:
        raise WebhookEndpointNotFound("No such webhook endpoint for this merchant.")
    return endpoint


def _endpoint_audit(
    action: str,
    *,
    merchant: Merchant,
    endpoint: WebhookEndpoint,
    data: dict[str, object] | None = None,
) -> None:
    audit_record(
        action=action,
        actor=f"merchant:{merchant.pk}",
        object_type="webhook_endpoint",
        object_id=endpoint.pk,
        data=data,
    )


def webhook_endpoint_create(
    *,
    merchant: Merchant,
    url: object,
    enabled_events: object,
    description: str = "",
    metadata: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (``whsec_…``), which is shown only here."""
    events = enabled_events_validate(enabled_events)
    text_validate(description=description, metadata=metadata or {})
    checked_url = _url_check(url)
    now = clock_now(now)
    with transaction.atomic():
        # The merchant row is the lock: concurrent creates count one after the other.
        Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
        existing = (
            WebhookEndpoint.objects.owned_by(merchant).filter(deleted_at__isnull=True).count()
        )
        if existing >= settings.WEBHOOK_MAX_ENDPOINTS:
            raise WebhookEndpointLimit(
                f"An account can have at most {settings.WEBHOOK_MAX_ENDPOINTS} webhook "
                "endpoints in each mode; delete one first."
            )
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant,
            livemode=merchant.acting_livemode(),
            url=checked_url,
            description=description,
            metadata=dict(metadata or {}),
            enabled_events=events,
            created_at=now,
        )
        effect_bind(endpoint.pk)
        secret = secret_generate()
        secret_store(endpoint=endpoint, secret=secret, now=now)
        _endpoint_audit(
            "webhook_endpoint.create", merchant=merchant, endpoint=endpoint, data={"events": events}
        )
    return endpoint, secret


def webhook_endpoint_get(*, merchant: Merchant, endpoint_id: str) -> WebhookEndpoint:
    endpoint = (
        WebhookEndpoint.objects.owned_by(merchant)
        .filter(pk=endpoint_id, deleted_at__isnull=True)
        .first()
    )
    if endpoint is None:
        raise WebhookEndpointNotFound("No such webhook endpoint for this merchant.")
    return endpoint


def webhook_endpoint_update(
    *,
    merchant: Merchant,
    endpoint_id: str,
    url: object = None,
    enabled_events: object = None,
    description: str | None = None,
    metadata: Mapping[str, str] | None = None,
    disabled: bool | None = None,
    now: datetime | None = None,
) -> WebhookEndpoint:
    """Change the URL, events or description; ``disabled=False`` re-enables an endpoint
    (after it was disabled for failures, say), ``True`` pauses it. Deliveries still pending
    resume when it is enabled again."""
    now = clock_now(now)
    events = enabled_events_validate(enabled_events) if enabled_events is not None else None
    if description is not None or metadata is not None:
        text_validate(description=description or "", metadata=metadata or {})
    checked_url = _url_check(url) if url is not None else None
    with transaction.atomic():
        endpoint = _endpoint_locked(merchant=merchant, endpoint_id=endpoint_id)
        effect_bind(endpoint.pk)
        fields: list[str] = []
        if checked_url is not None:
            endpoint.url = checked_url
            fields.append("url")
        if events is not None:
            endpoint.enabled_events = events
            fields.append("enabled_events")
        if description is not None:
            endpoint.description = description
            fields.append("description")
        if metadata is not None:  # replaces the whole set, like description
            endpoint.metadata = dict(metadata)
            fields.append("metadata")
        if disabled is True and endpoint.status == WebhookEndpoint.Status.ENABLED:
            endpoint.status = WebhookEndpoint.Status.DISABLED
            endpoint.disabled_reason = "requested"
            endpoint.disabled_at = now
            fields += ["status", "disabled_reason", "disabled_at"]
        elif disabled is False and endpoint.status == WebhookEndpoint.Status.DISABLED:
            endpoint.status = WebhookEndpoint.Status.ENABLED
            endpoint.disabled_reason = ""
            endpoint.disabled_at = None
            fields += ["status", "disabled_reason", "disabled_at"]
            # Pending deliveries resume now with a fresh retry window.
            WebhookDelivery.objects.filter(
                endpoint=endpoint, status=WebhookDelivery.Status.PENDING
            ).update(next_attempt_at=now, window_started_at=now)
        if fields:
            endpoint.save(update_fields=fields)
            _endpoint_audit(
                "webhook_endpoint.update",
                merchant=merchant,
                endpoint=endpoint,
                data={"fields": fields},
            )
    return endpoint


def webhook_endpoint_delete(
    *, merchant: Merchant, endpoint_id: str, now: datetime | None = None
) -> WebhookEndpoint:
    """Stop delivering to it for good: pending deliveries are canceled and its secrets
    destroyed; the endpoint row and its delivery log stay for support and audit."""
    now = clock_now(now)
    with transaction.atomic():
        endpoint = _endpoint_locked(merchant=merchant, endpoint_id=endpoint_id)
        effect_bind(endpoint.pk)
        endpoint.deleted_at = now
        endpoint.save(update_fields=["deleted_at"])
        WebhookSecret.objects.filter(endpoint=endpoint).delete()
        WebhookDelivery.objects.filter(
            endpoint=endpoint, status=WebhookDelivery.Status.PENDING
        ).update(status=WebhookDelivery.Status.CANCELED, next_attempt_at=None)
        _endpoint_audit("webhook_endpoint.delete", merchant=merchant, endpoint=endpoint)
    return endpoint


def webhook_endpoint_secret_roll(
    *, merchant: Merchant, endpoint_id: str, now: datetime | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (returned once). The previous one keeps signing alongside it for
    ``WEBHOOK_SECRET_OVERLAP_SECONDS`` (24 h) so the merchant can deploy the new one; a secret
    rolled away earlier than that stops at once (at most two sign at any time)."""
    now = clock_now(now)
    with transaction.atomic():
        endpoint = _endpoint_locked(merchant=merchant, endpoint_id=endpoint_id)
        effect_bind(endpoint.pk)
        WebhookSecret.objects.filter(endpoint=endpoint, expires_at__isnull=False).delete()
        WebhookSecret.objects.filter(endpoint=endpoint, expires_at__isnull=True).update(
            expires_at=now + timedelta(seconds=settings.WEBHOOK_SECRET_OVERLAP_SECONDS)
        )
        secret = secret_generate()
        secret_store(endpoint=endpoint, secret=secret, now=now)
        _endpoint_audit("webhook_endpoint.secret_roll", merchant=merchant, endpoint=endpoint)
    return endpoint, secret


__all__ = [
    "ALL_EVENTS",
    "WebhookEndpointLimit",
    "WebhookEndpointNotFound",
    "enabled_events_validate",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_get",
    "webhook_endpoint_secret_roll",
    "webhook_endpoint_update",
]
