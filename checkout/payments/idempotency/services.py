"""Idempotency records: one per (merchant, mode, key), the first answer kept for every retry.

- Same key, same request → the first response replayed (errors included), with
  ``Idempotent-Replayed: true``.
- Same key, different request → 422 ``idempotency_key_reused``.
- Same key while the first request still runs → 409 ``idempotency_key_in_use``.

The database enforces it: a unique (merchant, mode, key) row is inserted, in its own transaction,
before the handler runs, so any number of app servers agree on who goes first. A 5xx answer is
not stored (the key is released so a retry runs again); a request that died holding a key is
taken over after ``IDEMPOTENCY_LOCK_SECONDS``. Keys live ``IDEMPOTENCY_KEY_TTL_HOURS`` (≥ 24 h)
and are purged by ``manage.py purge_idempotency_keys``.

A request's effect is bound to its record (``idempotency_effect_bind``, reached through the
kernel's ``effect_bind`` from the service that commits the effect, in that same transaction):
a taken-over record that names an effect is answered with it, and a second binding is refused
by a conditional UPDATE, so one key never has two effects. A 5xx after the effect is bound
does not release the key either: it unlocks it, so the retry answers with the effect at once.

The ``Idempotency-Key`` header and the ``@idempotent`` view decorator are the API's side
(``checkout.payments.idempotency.api``, ``payments_site.kernel.idempotency``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac
from rest_framework.utils.encoders import JSONEncoder

from checkout.clock import clock_now
from checkout.payments.idempotency.models import IdempotencyKey
from payments_site.kernel.cards import has_card_data
from payments_site.kernel.errors import DomainError
from payments_site.kernel.idempotency import EffectAlreadyBound
from payments_site.kernel.jsontext import json_parse
from payments_site.kernel.rows import row_insert, row_update
from vault.models import Merchant


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"


class IdempotencyKeyInUse(DomainError):
    code = "idempotency_key_in_use"

    def __init__(self) -> None:
        super().__init__(
            "Another request with this Idempotency-Key is still running. Retry shortly.",
            retry_after=1,
        )


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def idempotency_key_at_rest(value: str) -> str:
    """The form a key is stored in: itself, unless it contains what looks like a card number
    (a Luhn-valid 13–19 digit run), which is stored only as a keyed hash. Refusing such keys
    instead would turn away ~0.4 % of random hex keys; storing them would put a pasted PAN in
    the database in clear."""
    if not has_card_data(value):
        return value
    digest = salted_hmac("tessera.idempotency-key", value, algorithm="sha256").hexdigest()
    return f"hmac:{digest}"


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
    defer: bool = False,
    read: bool = True,
) -> IdempotencyKey | StoredResponse:
    """Claim ``key`` for this request (→ the row to complete later) or return what the first
    request with it answered. Raises ``IdempotencyKeyReused`` / ``IdempotencyKeyInUse``.

    ``defer``: a key nobody holds is not inserted now but returned unsaved, for
    ``idempotency_effect_bind`` (or ``idempotency_complete``) to insert in the transaction that
    needs it; a concurrent request then loses at that insert (``IdempotencyClaimLost``).
    ``read=False`` (with ``defer``) claims without looking first: almost every key is new, and
    a key used before loses at that insert just the same, so the caller asks again with
    ``read`` and gets the first answer."""
    now = clock_now(now)
    if defer and not read:
        return _unsaved(merchant, key, fingerprint, method, path, now)
    for _ in range(5):
        if defer:
            existing = IdempotencyKey.objects.owned_by(merchant).filter(key=key).first()
            if existing is None:
                return _unsaved(merchant, key, fingerprint, method, path, now)
        else:
            try:
                with transaction.atomic():
                    record = _unsaved(merchant, key, fingerprint, method, path, now)
                    record.save(force_insert=True)
                    return record
            except IntegrityError:
                pass
            existing = IdempotencyKey.objects.owned_by(merchant).filter(key=key).first()
            if existing is None:
                continue  # released or purged in between: try to claim it again
        outcome = _existing_claim(existing, fingerprint=fingerprint, now=now)
        if outcome is not None:
            return outcome
    raise IdempotencyKeyInUse()


class IdempotencyClaimLost(Exception):
    """A deferred claim met a record inserted meanwhile by a request with the same key."""


def _unsaved(
    merchant: Merchant, key: str, fingerprint: str, method: str, path: str, now: datetime
) -> IdempotencyKey:
    return IdempotencyKey(
        merchant=merchant,
        livemode=merchant.acting_livemode(),
        key=key,
        request_fingerprint=fingerprint,
        method=method[:10],
        path=path[:500],
        locked_at=now,
        created_at=now,
    )


def _existing_claim(
    existing: IdempotencyKey, *, fingerprint: str, now: datetime
) -> IdempotencyKey | StoredResponse | None:
    """What a request finds when the key has a record: its answer, the record taken over, or
    None (expired and deleted: claim afresh)."""
    lock = timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
    if existing.created_at < now - _ttl() and existing.status == existing.Status.COMPLETED:
        # Expired but not purged yet: it no longer binds; start afresh.
        IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
        return None
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


def idempotency_effect_bind(*, record: IdempotencyKey, object_id: str) -> None:
    """Record ``object_id`` as the effect of ``record``'s request, in the caller's transaction.
    Only the first effect of a request is its answer: later ones (a subscription's first charge)
    belong to it. Raises ``EffectAlreadyBound`` when another request bound one first, and
    ``IdempotencyClaimLost`` when a deferred claim finds the key taken meanwhile."""
    if record.effect:
        return
    if record._state.adding:  # a deferred claim: the record is inserted with its effect
        record.effect = object_id
        try:
            row_insert(record)  # on every charge: the statement compiled once
        except IntegrityError as exc:
            record.effect = ""
            raise IdempotencyClaimLost() from exc
        return
    bound = IdempotencyKey.objects.filter(pk=record.pk, effect="").update(effect=object_id)
    if bound:
        record.effect = object_id
        return
    current = IdempotencyKey.objects.filter(pk=record.pk).values_list("effect", flat=True).first()
    if current and current != object_id:
        raise EffectAlreadyBound(current)


def idempotency_complete(
    *,
    record: IdempotencyKey,
    status: int,
    body: Any,
    headers: dict[str, str],
    now: datetime | None = None,
) -> None:
    """Store the first response. 5xx and 429 answers are not stored: the key is released
    instead, so the client's retry runs again (after a transient failure or a cool-off, not a
    decision) — or, when the effect was committed already, unlocked so that the retry answers
    with it. Inside a transaction (``effect_settled``) it commits with the outcome. Raises
    ``IdempotencyClaimLost`` when a deferred claim finds the key taken meanwhile."""
    if record._state.adding:  # a deferred claim that bound no effect
        if status >= 500 or status == 429:
            if _claimed_meanwhile(record):  # a first answer exists: it is the answer
                raise IdempotencyClaimLost()
            return
        _completed(record, status=status, body=body, headers=headers, now=now)
        try:
            with transaction.atomic():
                record.save(force_insert=True)
        except IntegrityError as exc:
            raise IdempotencyClaimLost() from exc
        return
    if status >= 500 or status == 429:
        pending = IdempotencyKey.objects.filter(pk=record.pk, status=record.Status.IN_PROGRESS)
        pending.filter(effect="").delete()
        pending.exclude(effect="").update(locked_at=None)
        return
    _completed(record, status=status, body=body, headers=headers, now=now)
    row_update(
        IdempotencyKey,
        where={"pk": record.pk},
        values={
            "status": record.status,
            "response_status": record.response_status,
            "response_body": record.response_body,
            "response_headers": record.response_headers,
            "completed_at": record.completed_at,
            "locked_at": None,
        },
    )


def _claimed_meanwhile(record: IdempotencyKey) -> bool:
    return IdempotencyKey.objects.filter(
        merchant_id=record.merchant_id, livemode=record.livemode, key=record.key
    ).exists()


def _completed(
    record: IdempotencyKey,
    *,
    status: int,
    body: Any,
    headers: dict[str, str],
    now: datetime | None,
) -> None:
    record.status = IdempotencyKey.Status.COMPLETED
    record.response_status = status
    record.response_body = json_parse(json.dumps(body, cls=JSONEncoder))
    record.response_headers = headers
    record.completed_at = clock_now(now)
    record.locked_at = None


def idempotency_purge(*, now: datetime | None = None) -> int:
    """Delete keys older than the retention period; returns how many went."""
    cutoff = clock_now(now) - _ttl()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
