"""Delivering events: claim a delivery, POST it once, record the attempt, schedule the next.

Exactly-once delivery over a network is impossible (an answer can be lost after the merchant
processed the event), so the guarantees are:

- **at most one attempt at a time** per (event, endpoint): the delivery row is unique per
  pair, and an attempt starts by claiming it — ``select_for_update(skip_locked=True)`` plus a
  conditional UPDATE that bumps ``attempts`` and moves ``next_attempt_at`` to the end of a
  lease (``WEBHOOK_LEASE_SECONDS``, longer than any attempt can take). Any number of workers
  and duplicated Celery messages therefore run one attempt; the others find nothing due.
- **at least once**: the row, not the queue, is the record. A worker that dies mid-attempt
  leaves the row due again when its lease ends, and ``deliveries_enqueue_due`` (beat, or
  ``manage.py deliver_webhooks`` without a broker) hands it out again.

Failed attempts (no 2xx within ``WEBHOOK_TIMEOUT_SECONDS``; redirects are failures) are retried
with exponential backoff and ±20 % jitter (``WEBHOOK_RETRY_BASE_SECONDS`` doubling up to
``WEBHOOK_RETRY_MAX_DELAY_SECONDS``) for ``WEBHOOK_RETRY_WINDOW_SECONDS`` (3 days). Then the
delivery is ``failed``; if the endpoint has not accepted anything since that delivery's
window began, the endpoint is disabled and an operational ``SecurityAlert`` is raised.

Before every attempt the URL is validated and resolved again, every address vetted, and the
connection pinned to a vetted address (``addresses.py``, ``transport.py``).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from checkout.clock import clock_now
from checkout.webhooks.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from monitoring.audit.services import audit_record
from monitoring.security.models import SecurityAlert
from payments_site.kernel.errors import DomainError
from payments_site.kernel.events import DomainEvent, publish

from .addresses import WebhookUrlRefused, target_resolve, webhook_url_validate
from .secrets import secrets_valid
from .signature import HEADER, signature_header
from .transport import HttpOutcome, post_pinned

logger = logging.getLogger(__name__)

ALERT_RULE = "webhook.endpoint_disabled"
_jitter = random.SystemRandom()


def lease_seconds() -> float:
    """How long a claimed attempt keeps others off: the request deadline plus room for DNS
    resolution and recording."""
    return float(settings.WEBHOOK_TIMEOUT_SECONDS) + float(settings.WEBHOOK_LEASE_MARGIN_SECONDS)


def retry_delay(attempt: int) -> timedelta:
    """Delay after failed attempt number ``attempt`` (1-based): base·2^(n-1), capped, ±20 %."""
    base = float(settings.WEBHOOK_RETRY_BASE_SECONDS)
    cap = float(settings.WEBHOOK_RETRY_MAX_DELAY_SECONDS)
    delay = min(cap, base * 2 ** min(attempt - 1, 40))
    return timedelta(seconds=delay * _jitter.uniform(0.8, 1.2))


@dataclass(frozen=True)
class DeliveriesDue(DomainEvent):
    """Deliveries that may be attempted now, once committed: ``tasks.py`` hands them to the
    workers. A lost hand-off is no loss: the rows stay due for the next pass."""

    delivery_ids: tuple[int, ...]


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    number: int


def _due(now: datetime) -> Q:
    return Q(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now,
        endpoint__status=WebhookEndpoint.Status.ENABLED,
        endpoint__deleted_at__isnull=True,
    )


def delivery_claim(*, delivery_id: int, now: datetime) -> Claim | None:
    """Take the next attempt of a due delivery, or None (not due, or someone else has it)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(_due(now), pk=delivery_id)
            .only("pk", "attempts", "window_started_at")
            .first()
        )
        if delivery is None:
            return None
        number = delivery.attempts + 1
        claimed = WebhookDelivery.objects.filter(
            pk=delivery.pk,
            status=WebhookDelivery.Status.PENDING,
            attempts=delivery.attempts,
            next_attempt_at__lte=now,
        ).update(
            attempts=number,
            next_attempt_at=now + timedelta(seconds=lease_seconds()),
            last_attempt_at=now,
            window_started_at=delivery.window_started_at or now,
        )
    return Claim(delivery_id=delivery.pk, number=number) if claimed else None


def _send(*, event: Event, endpoint: WebhookEndpoint, now: datetime) -> HttpOutcome:
    """Validate, resolve and vet, sign, POST. Refusals become outcomes: nothing is sent."""
    try:
        url = webhook_url_validate(endpoint.url)
        addresses = target_resolve(url)
    except WebhookUrlRefused as refused:
        code = "dns_failed" if refused.code == "url_unresolvable" else "address_forbidden"
        return HttpOutcome(status=None, latency_ms=0, error=code, error_detail=refused.message)
    except DomainError as invalid:
        return HttpOutcome(
            status=None, latency_ms=0, error="url_invalid", error_detail=invalid.message
        )
    body = event.payload.encode("utf-8")
    headers = {
        HEADER: signature_header(
            payload=body,
            secrets=secrets_valid(endpoint_id=endpoint.pk, now=now),
            timestamp=int(now.timestamp()),
        ),
        "Tessera-Event-Id": event.id,
    }
    outcome = HttpOutcome(status=None, latency_ms=0, error="connection_failed")
    for address in addresses:  # the next vetted address only if this one cannot be reached
        outcome = post_pinned(
            url=url,
            address=address,
            body=body,
            headers=headers,
            timeout=float(settings.WEBHOOK_TIMEOUT_SECONDS),
            max_response_bytes=int(settings.WEBHOOK_MAX_RESPONSE_BYTES),
            cafile=settings.WEBHOOK_CA_BUNDLE or None,
        )
        if outcome.error not in ("connection_refused", "connection_failed"):
            break
    return outcome


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> WebhookAttempt | None:
    """One attempt of one delivery if it is due; the recorded attempt, or None."""
    now = clock_now(now)
    claim = delivery_claim(delivery_id=delivery_id, now=now)
    if claim is None:
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    try:
        outcome = _send(event=delivery.event, endpoint=delivery.endpoint, now=now)
    except Exception as exc:  # a bug or a key-service outage: recorded, retried, never lost
        logger.exception("webhook_attempt_error", extra={"delivery": delivery_id})
        outcome = HttpOutcome(
            status=None, latency_ms=0, error="internal_error", error_detail=type(exc).__name__
        )
    return _attempt_record(claim=claim, outcome=outcome, now=now)


def _attempt_record(*, claim: Claim, outcome: HttpOutcome, now: datetime) -> WebhookAttempt:
    with transaction.atomic():
        attempt = WebhookAttempt.objects.create(
            delivery_id=claim.delivery_id,
            sequence=claim.number,
            started_at=now,
            latency_ms=outcome.latency_ms,
            status_code=outcome.status,
            error=outcome.error,
            error_detail=outcome.error_detail[:300],
            response_excerpt=outcome.excerpt[:500],
            remote_address=outcome.remote_address,
        )
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint")
            .get(pk=claim.delivery_id)
        )
        if delivery.status != WebhookDelivery.Status.PENDING:
            return attempt  # settled meanwhile (a slower earlier attempt, or canceled)
        delivery.last_status_code = outcome.status
        delivery.last_error = outcome.error
        fields = ["last_status_code", "last_error", "status", "next_attempt_at"]
        if outcome.ok:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            fields.append("delivered_at")
            WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(last_success_at=now)
        elif delivery.attempts != claim.number:
            return attempt  # a newer attempt owns the schedule (our lease had run out)
        else:
            retry_at = now + retry_delay(claim.number)
            window_end = (delivery.window_started_at or now) + timedelta(
                seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS
            )
            if retry_at <= window_end:
                delivery.next_attempt_at = retry_at
            else:
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.next_attempt_at = None
        delivery.save(update_fields=fields)
        if delivery.status == WebhookDelivery.Status.FAILED:
            _endpoint_disable_if_failing(delivery=delivery, now=now)
    logger.info(
        "webhook_attempt",
        extra={
            "delivery": claim.delivery_id,
            "attempt": claim.number,
            "status_code": outcome.status,
            "error": outcome.error,
            "latency_ms": outcome.latency_ms,
        },
    )
    return attempt


def _endpoint_disable_if_failing(*, delivery: WebhookDelivery, now: datetime) -> None:
    """Disable the endpoint when nothing was accepted since this delivery's window began (it
    has been failing for the whole retry window), and raise one operational alert."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if endpoint.status != WebhookEndpoint.Status.ENABLED:
        return
    since = delivery.window_started_at or now
    if endpoint.last_success_at is not None and endpoint.last_success_at >= since:
        return
    endpoint.status = WebhookEndpoint.Status.DISABLED
    endpoint.disabled_reason = "delivery_failures"
    endpoint.disabled_at = now
    endpoint.save(update_fields=["status", "disabled_reason", "disabled_at"])
    host = webhook_url_host(endpoint.url)
    alert = None
    for offset in range(5):  # one alert per (rule, merchant, instant): step past a twin
        try:
            with transaction.atomic():
                alert = SecurityAlert.objects.create(
                    rule=ALERT_RULE,
                    scope=SecurityAlert.Scope.MERCHANT,
                    source=endpoint.merchant_id,
                    window_start=now + timedelta(microseconds=offset),
                    raised_at=now,
                    observed=float(delivery.attempts),
                    threshold=float(settings.WEBHOOK_RETRY_WINDOW_SECONDS) / 3600,
                    severity=SecurityAlert.Severity.WARNING,
                    detail={
                        "endpoint": endpoint.pk,
                        "host": host,
                        "event": delivery.event_id,
                        "attempts": delivery.attempts,
                        "last_error": delivery.last_error,
                        "last_status_code": delivery.last_status_code,
                        "failing_since": since.isoformat(),
                        "hint": "The merchant's endpoint failed every delivery for the whole "
                        "retry window; it receives nothing until re-enabled.",
                    },
                )
            break
        except IntegrityError:
            continue
    audit_record(
        action="webhook_endpoint.disable",
        actor="system:webhooks",
        object_type="webhook_endpoint",
        object_id=endpoint.pk,
        reason="delivery_failures",
        data={"merchant": endpoint.merchant_id, "alert": alert.pk if alert else None},
    )
    logger.warning(
        "webhook_endpoint_disabled",
        extra={"endpoint": endpoint.pk, "merchant": endpoint.merchant_id, "host": host},
    )


def webhook_url_host(url: str) -> str:
    """The host of a URL, for logs and alerts (a URL's path or query may carry a merchant's
    own secret, so whole URLs are not logged)."""
    try:
        return (urlsplit(url).hostname or "")[:200]
    except ValueError:
        return ""


# --- scheduling ----------------------------------------------------------------------------------


def deliveries_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of deliveries whose next attempt has come, the longest waiting first."""
    return list(
        WebhookDelivery.objects.filter(_due(clock_now(now)))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def deliveries_run(*, now: datetime | None = None, limit: int = 500) -> int:
    """One pass in this process (cron without a broker, tests): attempt every due delivery.
    Returns how many attempts were made."""
    now = clock_now(now)
    made = 0
    for delivery_id in deliveries_due(now=now, limit=limit):
        if delivery_attempt(delivery_id=delivery_id, now=now) is not None:
            made += 1
    return made


def delivery_resend(
    *, delivery: WebhookDelivery, actor: str, now: datetime | None = None
) -> WebhookDelivery:
    """Attempt a delivery again now, with a fresh retry window (the admin's "resend"). Refused
    for an endpoint that is disabled or deleted: re-enable it first."""
    now = clock_now(now)
    with transaction.atomic():
        current = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint")
            .get(pk=delivery.pk)
        )
        endpoint = current.endpoint
        if endpoint.deleted_at is not None or endpoint.status != WebhookEndpoint.Status.ENABLED:
            raise DeliveryNotResendable(
                "The endpoint is disabled or deleted; enable it before resending."
            )
        current.status = WebhookDelivery.Status.PENDING
        current.next_attempt_at = now
        current.window_started_at = now
        current.save(update_fields=["status", "next_attempt_at", "window_started_at"])
        audit_record(
            action="webhook_delivery.resend",
            actor=actor,
            object_type="webhook_delivery",
            object_id=str(current.pk),
            data={"event": current.event_id, "endpoint": current.endpoint_id},
        )
        publish(DeliveriesDue(delivery_ids=(current.pk,)))
    return current


class DeliveryNotResendable(DomainError):
    code = "delivery_not_resendable"


__all__ = [
    "ALERT_RULE",
    "DeliveriesDue",
    "DeliveryNotResendable",
    "deliveries_due",
    "deliveries_run",
    "delivery_attempt",
    "delivery_claim",
    "delivery_resend",
    "retry_delay",
]
