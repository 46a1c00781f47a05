"""Idempotent POSTs for every API endpoint: ``Idempotency-Key`` header, Stripe semantics.

- Same key, same request → the first response replayed (errors included), with
  ``Idempotent-Replayed: true``.
- Same key, different request → 422 ``idempotency_key_reused``.
- Same key while the first request still runs → 409 ``idempotency_key_in_use``.

The database enforces it: a unique (merchant, key) row is inserted, in its own transaction,
before the handler runs, so any number of app servers agree on who goes first. A 5xx answer is
not stored (the key is released so a retry runs again); a request that died holding a key is
taken over after ``IDEMPOTENCY_LOCK_SECONDS``. Keys live ``IDEMPOTENCY_KEY_TTL_HOURS`` (≥ 24 h)
and are purged by ``manage.py purge_idempotency_keys``.

Usage on any DRF ``APIView`` method: ``@idempotent`` (``from checkout.payments.idempotency.services import
idempotent``). Services that create resources should also record the key on them (charges do),
so that even a taken-over request can never create a second resource.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from checkout.clock import clock_now
from checkout.models import IdempotencyKey
from monitoring.observability.redaction import redact_text
from payments_site.problems import PROBLEM_CONTENT_TYPE, FieldError, ProblemError
from vault.authentication import request_merchant
from vault.models import Merchant

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Response headers worth replaying (the rest are recomputed per response).
_REPLAYED_HEADERS = ("Location", "Retry-After")


class InvalidIdempotencyKey(ProblemError):
    status = 400
    code = "invalid_idempotency_key"
    title = "Invalid Idempotency-Key header"


class IdempotencyKeyReused(ProblemError):
    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"


class IdempotencyKeyInUse(ProblemError):
    status = 409
    code = "idempotency_key_in_use"
    title = "A request with this idempotency key is still in progress"

    def __init__(self) -> None:
        super().__init__(
            "Another request with this Idempotency-Key is still running. Retry shortly.",
            headers={"Retry-After": "1"},
        )


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def idempotency_key_validate(value: str) -> str:
    """1–255 printable ASCII characters (no control characters)."""
    if not value or len(value) > MAX_KEY_LENGTH or not all(32 <= ord(c) < 127 for c in value):
        raise InvalidIdempotencyKey(
            "The Idempotency-Key header must be 1 to 255 printable ASCII characters, such as a "
            "UUID.",
            errors=[
                FieldError(
                    HEADER, "invalid_idempotency_key", "Use 1 to 255 ASCII characters, e.g. a UUID."
                )
            ],
        )
    return value


def idempotency_key_at_rest(value: str) -> str:
    """The form a key is stored in: itself, unless it contains what looks like a card number
    (a Luhn-valid 13–19 digit run), which is stored only as a keyed hash. Refusing such keys
    instead would turn away ~0.4 % of random hex keys; storing them would put a pasted PAN in
    the database in clear."""
    if redact_text(value) == value:
        return value
    digest = salted_hmac("tessera.idempotency-key", value, algorithm="sha256").hexdigest()
    return f"hmac:{digest}"


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """Keyed hash of the request; JSON bodies are canonicalised so key order and whitespace do
    not matter. Keyed, so a stored fingerprint cannot be brute-forced back to a small body."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    material = method.upper().encode() + b"\n" + path.encode() + b"\n" + canonical
    return salted_hmac("tessera.idempotency", material, algorithm="sha256").hexdigest()


def _ttl() -> timedelta:
    return timedelta(hours=max(24, settings.IDEMPOTENCY_KEY_TTL_HOURS))


def idempotency_begin(
    *,
    merchant: Merchant,
    key: str,
    fingerprint: str,
    method: str,
    path: str,
    now: datetime | None = None,
) -> IdempotencyKey | StoredResponse:
    """Claim ``key`` for this request (→ the row to complete later) or return what the first
    request with it answered. Raises ``IdempotencyKeyReused`` / ``IdempotencyKeyInUse``."""
    now = clock_now(now)
    lock = timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
    for _ in range(5):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    merchant=merchant,
                    key=key,
                    request_fingerprint=fingerprint,
                    method=method[:10],
                    path=path[:500],
                    locked_at=now,
                    created_at=now,
                )
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(merchant=merchant, key=key).first()
        if existing is None:
            continue  # released or purged in between: try to claim it again
        if existing.created_at < now - _ttl() and existing.status == existing.Status.COMPLETED:
            # Expired but not purged yet: it no longer binds; start afresh.
            IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request. "
                "Use a new key for a new request."
            )
        if existing.status == existing.Status.COMPLETED:
            return StoredResponse(
                status=existing.response_status or 500,  # never None: a check constraint
                body=existing.response_body,
                headers=dict(existing.response_headers or {}),
            )
        if existing.locked_at is not None and existing.locked_at > now - lock:
            raise IdempotencyKeyInUse()
        # The holder died (its lock is older than any request may run): take the key over, if
        # nobody else just did.
        taken = IdempotencyKey.objects.filter(
            pk=existing.pk, status=existing.Status.IN_PROGRESS, locked_at=existing.locked_at
        ).update(locked_at=now)
        if taken:
            existing.locked_at = now
            return existing
        raise IdempotencyKeyInUse()
    raise IdempotencyKeyInUse()


def idempotency_complete(
    *,
    record: IdempotencyKey,
    status: int,
    body: Any,
    headers: dict[str, str],
    now: datetime | None = None,
) -> None:
    """Store the first response. 5xx answers are not stored: the key is released instead, so
    the client's retry runs again (after a transient failure, not a decision)."""
    if status >= 500:
        IdempotencyKey.objects.filter(pk=record.pk, status=record.Status.IN_PROGRESS).delete()
        return
    IdempotencyKey.objects.filter(pk=record.pk).update(
        status=IdempotencyKey.Status.COMPLETED,
        response_status=status,
        response_body=json.loads(json.dumps(body, cls=JSONEncoder)),
        response_headers=headers,
        completed_at=clock_now(now),
        locked_at=None,
    )


def idempotency_purge(*, now: datetime | None = None) -> int:
    """Delete keys older than the retention period; returns how many went."""
    cutoff = clock_now(now) - _ttl()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


Handler = TypeVar("Handler", bound=Callable[..., Response])


def idempotent(handler: Handler) -> Handler:
    """Decorate a DRF view method (after authentication) to honour ``Idempotency-Key``."""

    @functools.wraps(handler)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        raw_key = request.headers.get(HEADER)
        if raw_key is None:
            return handler(view, request, *args, **kwargs)
        key = idempotency_key_at_rest(idempotency_key_validate(raw_key))
        django_request = request._request
        body = django_request.body  # read before DRF parses it; Django keeps a copy
        outcome = idempotency_begin(
            merchant=request_merchant(request),
            key=key,
            fingerprint=request_fingerprint(
                method=request.method or "POST", path=django_request.get_full_path(), body=body
            ),
            method=request.method or "POST",
            path=django_request.path,
        )
        if isinstance(outcome, StoredResponse):
            return _replay(outcome)
        try:
            response = handler(view, request, *args, **kwargs)
        except Exception as exc:
            # Errors are answers too: render them now so that the retry sees the same one.
            response = view.handle_exception(exc)
        headers = {name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)}
        if response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE) or (
            response.content_type == PROBLEM_CONTENT_TYPE
        ):
            headers["Content-Type"] = PROBLEM_CONTENT_TYPE
        # A view may store a different body for replays than it answers now (webhooks: the
        # signing secret is answered once and never stored in clear).
        stored_body = getattr(response, "idempotency_replay_data", response.data)
        idempotency_complete(
            record=outcome, status=response.status_code, body=stored_body, headers=headers
        )
        return response

    return wrapper  # type: ignore[return-value]


def _replay(stored: StoredResponse) -> Response:
    headers = dict(stored.headers)
    content_type = headers.pop("Content-Type", None)
    response = Response(stored.body, status=stored.status, headers=headers)
    if content_type:
        response.content_type = content_type
    response["Idempotent-Replayed"] = "true"
    return response
