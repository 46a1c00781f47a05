"""The sealer: links committed events into a chain of seals and signs its head now and then.

Runs from beat every second (``monitoring.audit_seal``), after commit in the writing process
when there is no broker (``seal_soon``), and on demand from ``verify_audit_chain``.

**Which events are safe to seal.** Ids come from a sequence when the row is inserted, but
transactions commit in any order: when id 12 is visible, id 11 may belong to a transaction
still running. A seal covers a contiguous id range, every event in it listed, so sealing past
an open transaction would leave its event outside every seal for good. The sealer therefore
notes the highest committed id and the database clock, then waits (up to
``AUDIT_SEAL_SETTLE_SECONDS``) until every transaction that began before that moment has
ended (``pg_stat_activity.xact_start``): any id up to the noted one was drawn by such a
transaction, so it is now committed or never will be. If one is still open, the seal goes up
to the newest earlier observation made before the oldest open transaction began. On SQLite,
writers hold the database write lock for their whole transaction, so what is visible under
that lock is final.

**Signing.** Every ``AUDIT_SIGN_INTERVAL_SECONDS`` (or when asked) the new seal's hash is
signed with the audit key; an empty seal is made for it when nothing new was sealed. The
newest signed head is logged (``audit_chain_head``, an anchor outside the database) and kept
in the shared cache: the sealer refuses to extend or sign a chain that no longer holds it, so
a tail cut or rewritten in the database is not blessed by the next signature.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from monitoring.audit.canonical import (
    AUDIT_TABLE,
    GENESIS,
    SEALER_LOCK_KEY,
    canonical_time,
    seal_digest,
)
from monitoring.audit.models import AuditEvent, AuditSeal
from monitoring.audit.signing import SigningUnavailable, head_signer

logger = logging.getLogger(__name__)

OBSERVATIONS_KEPT = 300


def _cache_key(kind: str) -> str:
    """Sealer state on the shared cache ("mon:" like all monitoring state), per database: two
    trails sharing one Redis keep apart."""
    return f"mon:audit:{connection.settings_dict['NAME']}:{kind}"


@dataclass(frozen=True)
class SealOutcome:
    """What one run did. ``held_back`` > 0: that many transactions older than the run were
    still open, so events from the oldest one's start on wait for a later run."""

    seal: AuditSeal | None = None
    sealed: int = 0
    signed: bool = False
    held_back: int = 0
    busy: bool = False  # another sealer holds the sealer lock
    refused: str = ""  # the chain lost the signed head this sealer remembers


def _observe() -> tuple[int, datetime | None]:
    """The highest committed event id and (PostgreSQL) the database clock right after."""
    if connection.vendor != "postgresql":
        return AuditEvent.objects.aggregate(high=Max("id"))["high"] or 0, None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT max(id) FROM {AUDIT_TABLE}), clock_timestamp()")  # noqa: S608
        high, now = cursor.fetchone()
    return high or 0, now


def _open_transactions(moment: datetime) -> tuple[int, datetime | None]:
    """Client transactions in this database, other than ours, that began at or before
    ``moment``; and when the oldest open one began (None: one we may not see is open, so it
    could be as old as any). A session whose state we may not see counts as open."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FILTER (WHERE xact_start <= %s OR state IS NULL), "
            "min(xact_start), coalesce(bool_or(state IS NULL), false) "
            "FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            [moment],
        )
        count, oldest, unseen = cursor.fetchone()
    return int(count), None if unseen else oldest


def _settle(moment: datetime | None, timeout: float) -> tuple[int, datetime | None]:
    """Wait until no transaction older than ``moment`` is open. Returns how many still are
    and when the oldest open one began."""
    if moment is None:
        return 0, None
    deadline, pause = time.monotonic() + timeout, 0.002
    while True:
        still_open, oldest = _open_transactions(moment)
        if not still_open or time.monotonic() >= deadline:
            return still_open, oldest
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.05)


def _safe_high(high: int, moment: datetime | None, timeout: float) -> tuple[int, int]:
    """The highest id up to which every event is committed or never will be, and how many
    open transactions kept it below ``high``.

    Each run's observation (highest id, clock) is kept on the shared cache, and in this
    process should the cache forget it: when an old transaction is still open, the newest
    observation made before it began still holds."""
    held_back, oldest = _settle(moment, timeout)
    if moment is None:
        return high, 0
    key = _cache_key("observations")
    shared = [tuple(item) for item in cache.get(key) or []]
    local = _local_observations.setdefault(key, [])
    observations = sorted(set(shared) | set(local))[-OBSERVATIONS_KEPT:]
    latest = (moment.isoformat(), high)
    cache.set(key, [*observations[1 - OBSERVATIONS_KEPT :], latest], timeout=3600)
    local[:] = [*local[1 - OBSERVATIONS_KEPT :], latest]
    if not held_back:
        return high, 0
    if oldest is None:
        return 0, held_back
    earlier = [int(h) for m, h in observations if datetime.fromisoformat(str(m)) < oldest]
    return min(max(earlier, default=0), high), held_back


_local_observations: dict[str, list[tuple[str, int]]] = {}


def _lock_sealer() -> bool:
    if connection.vendor != "postgresql":
        return True  # BEGIN IMMEDIATE already serialises writers, sealers included
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEALER_LOCK_KEY])
        (locked,) = cursor.fetchone()
    return bool(locked)


def _remembered_head() -> tuple[int, str] | None:
    value = cache.get(_cache_key("signed-head"))
    if not isinstance(value, str) or ":" not in value:
        return None
    number, _, digest = value.partition(":")
    return int(number), digest


def _signing_due(last: AuditSeal | None) -> bool:
    signed_at = (
        AuditSeal.objects.filter(~Q(signature=""))
        .order_by("-number")
        .values_list("sealed_at", flat=True)
        .first()
    )
    if signed_at is None:
        return True
    if last is not None and last.signature:
        return False  # the head is signed already
    age = timezone.now() - signed_at
    return age >= timedelta(seconds=settings.AUDIT_SIGN_INTERVAL_SECONDS)


def seal_pending(*, settle_timeout: float | None = None, sign: bool | None = None) -> SealOutcome:
    """Seal every committed event not sealed yet, as far as open transactions allow.

    ``sign``: True signs the new head now, False never, None when the interval has passed.
    Call outside a transaction on PostgreSQL, so the wait sees other sessions end.
    """
    timeout = settings.AUDIT_SEAL_SETTLE_SECONDS if settle_timeout is None else settle_timeout
    observed, moment = _observe()
    high, held_back = _safe_high(observed, moment, timeout)
    if held_back:
        logger.info(
            "audit_seal_held_back",
            extra={"open_transactions": held_back, "observed": observed, "sealing_to": high},
        )
    try:
        with transaction.atomic():
            if not _lock_sealer():
                return SealOutcome(busy=True, held_back=held_back)
            outcome = _seal_up_to(high, sign=sign, held_back=held_back)
    except IntegrityError:
        # Another sealer (SQLite, or one without our lock) made this seal first: theirs stands.
        return SealOutcome(busy=True, held_back=held_back)
    if outcome.signed and outcome.seal is not None:
        anchor = f"{outcome.seal.number}:{outcome.seal.hash}"
        cache.set(_cache_key("signed-head"), anchor, timeout=None)
        logger.info("audit_chain_head", extra={"anchor": anchor, "key_id": outcome.seal.key_id})
    return outcome


def _seal_up_to(high: int, *, sign: bool | None, held_back: int) -> SealOutcome:
    last = AuditSeal.objects.order_by("-number").first()
    remembered = _remembered_head()
    if remembered is not None:
        number, digest = remembered
        kept = AuditSeal.objects.filter(number=number).values_list("hash", flat=True).first()
        if kept != digest:
            state = "gone" if kept is None else "changed"
            problem = f"seal {number}, signed as {digest[:16]}…, is {state}"
            logger.critical("audit_chain_rewritten", extra={"problem": problem})
            return SealOutcome(refused=problem, held_back=held_back)
    low = last.high_id if last else 0
    if connection.vendor != "postgresql":
        high = AuditEvent.objects.aggregate(high=Max("id"))["high"] or 0  # under the write lock
    rows = list(
        AuditEvent.objects.filter(id__gt=low, id__lte=high)
        .order_by("id")
        .values_list("id", "digest")[: settings.AUDIT_SEAL_MAX_EVENTS]
    )
    if len(rows) == settings.AUDIT_SEAL_MAX_EVENTS:
        high = rows[-1][0]
    do_sign = _signing_due(last) if sign is None else sign
    if last is not None and last.signature and not rows:
        do_sign = False  # nothing new to vouch for
    if not rows and not (do_sign and last is not None):
        return SealOutcome(held_back=held_back)
    sealed_at = timezone.now()
    number = (last.number if last else 0) + 1
    events = [[event_id, digest] for event_id, digest in rows]
    fields: dict[str, Any] = {
        "number": number,
        "low_id": low,
        "high_id": max(high, low) if rows else low,
        "events": events,
        "prev_hash": last.hash if last else GENESIS,
    }
    digest = seal_digest(**fields, sealed_at=canonical_time(sealed_at))
    key_id = signature = ""
    if do_sign:
        try:
            signer = head_signer()
            signature, key_id = signer.sign(digest), signer.key_id
        except SigningUnavailable as exc:
            logger.warning("audit_seal_unsigned", extra={"error": str(exc)})
    if not rows and not signature:
        return SealOutcome(held_back=held_back)
    seal = AuditSeal.objects.create(
        **fields, hash=digest, sealed_at=sealed_at, key_id=key_id, signature=signature
    )
    return SealOutcome(seal=seal, sealed=len(rows), signed=bool(signature), held_back=held_back)


# --- the inline fallback: no broker, so no beat ------------------------------------------------

_inline_lock = threading.Lock()
_inline_last = 0.0


def seal_soon() -> None:
    """After an event commits in a process without a broker: seal, at most once per interval
    per process. Never waits for other transactions (the next call catches up) and never
    fails the request that wrote the event."""
    global _inline_last
    now = time.monotonic()
    with _inline_lock:
        if now - _inline_last < settings.AUDIT_SEAL_INTERVAL_SECONDS:
            return
        _inline_last = now
    try:
        seal_pending(settle_timeout=0)
    except Exception:  # the event is committed and will be sealed by a later run
        logger.exception("audit_seal_failed")
