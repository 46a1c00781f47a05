"""Pure parts of the audit trail: canonical forms, event and seal digests, the trigger SQL.

No model or Django imports, so migrations and the offline verifier use them as they are.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
AUDIT_TABLE = "monitoring_auditevent"
SEAL_TABLE = "monitoring_auditseal"
CHAIN_VERSION = 1  # events linked by prev_hash, written under one lock (migration 0002 only)
EVENT_VERSION = 2  # each event's own digest; seals link them
SEAL_VERSION = 1

# PostgreSQL advisory lock key taken by sealers only (never by writers), so that two sealers
# do not both build the next seal.
SEALER_LOCK_KEY = 0x7E55_E8A0_A0D1_7002

# Name of the session setting the PostgreSQL triggers consult, and of the SQL function the
# SQLite triggers call; both mean "the owner has explicitly lifted the guard".
PG_GUARD_SETTING = "tessera.audit_guard"
SQLITE_GUARD_FUNCTION = "tessera_audit_guard_lifted"

FIELD_LIMITS = {
    "actor": 200,
    "action": 100,
    "object_type": 50,
    "object_id": 100,
    "reason": 100,
    "request_id": 128,
}


@functools.lru_cache(maxsize=4096)  # pure; every audit event and its check parse one
def canonical_ip(value: str | None) -> str | None:
    """The one textual form of an address, whatever form the database hands back."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def canonical_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 kept as is: one byte string per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_digest_v1(
    *,
    occurred_at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    outcome: str,
    reason: str,
    source_ip: str | None,
    request_id: str,
    data: Mapping[str, Any],
    prev_hash: str,
) -> str:
    payload = {
        "v": CHAIN_VERSION,
        "occurred_at": canonical_time(occurred_at),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "outcome": outcome,
        "reason": reason,
        "source_ip": canonical_ip(source_ip),
        "request_id": request_id,
        "data": data,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def event_digest(
    *,
    occurred_at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    outcome: str,
    reason: str,
    source_ip: str | None,
    request_id: str,
    data: Mapping[str, Any],
) -> str:
    """SHA-256 over one event's canonical content alone: computed by the writer, needing no
    other row, so appending takes no lock. Its id is bound by the seal that lists it."""
    payload = {
        "v": EVENT_VERSION,
        "occurred_at": canonical_time(occurred_at),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "outcome": outcome,
        "reason": reason,
        "source_ip": canonical_ip(source_ip),
        "request_id": request_id,
        "data": data,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def seal_digest(
    *,
    number: int,
    low_id: int,
    high_id: int,
    events: Sequence[Sequence[Any]],
    prev_hash: str,
    sealed_at: str,
) -> str:
    """SHA-256 over a seal: the events it covers (``[id, digest]`` pairs, every event with
    ``low_id < id <= high_id``), and the previous seal's hash."""
    payload = {
        "v": SEAL_VERSION,
        "number": number,
        "low_id": low_id,
        "high_id": high_id,
        "events": [[int(event_id), str(digest)] for event_id, digest in events],
        "prev_hash": prev_hash,
        "sealed_at": sealed_at,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


# SQL installed by migration 0002. Literal on purpose (no interpolation); it names
# PG_GUARD_SETTING and SQLITE_GUARD_FUNCTION above.

PG_INSTALL = """
CREATE OR REPLACE FUNCTION monitoring_auditevent_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE'
       AND coalesce(current_setting('tessera.audit_guard', true), '') = 'lifted'
       AND pg_has_role(current_user,
                       (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        IF TG_LEVEL = 'ROW' THEN RETURN OLD; END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'monitoring_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER monitoring_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON monitoring_auditevent
    FOR EACH ROW EXECUTE FUNCTION monitoring_auditevent_append_only();
CREATE TRIGGER monitoring_auditevent_no_truncate
    BEFORE TRUNCATE ON monitoring_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION monitoring_auditevent_append_only();
"""

PG_UNINSTALL = """
DROP TRIGGER IF EXISTS monitoring_auditevent_no_update_delete ON monitoring_auditevent;
DROP TRIGGER IF EXISTS monitoring_auditevent_no_truncate ON monitoring_auditevent;
DROP FUNCTION IF EXISTS monitoring_auditevent_append_only();
"""

SQLITE_INSTALL = [
    """
    CREATE TRIGGER IF NOT EXISTS monitoring_auditevent_no_update
    BEFORE UPDATE ON monitoring_auditevent
    BEGIN SELECT RAISE(ABORT, 'monitoring_auditevent is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS monitoring_auditevent_no_delete
    BEFORE DELETE ON monitoring_auditevent
    WHEN NOT tessera_audit_guard_lifted()
    BEGIN SELECT RAISE(ABORT, 'monitoring_auditevent is append-only: DELETE refused'); END
    """,
]

SQLITE_TRIGGERS = frozenset({"monitoring_auditevent_no_update", "monitoring_auditevent_no_delete"})

SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS monitoring_auditevent_no_update",
    "DROP TRIGGER IF EXISTS monitoring_auditevent_no_delete",
]

# SQL installed by migration 0007: the seals are append-only too, by the same rules. The
# function names the table it refuses, so it serves both tables.

PG_SEAL_INSTALL = """
CREATE OR REPLACE FUNCTION monitoring_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE'
       AND coalesce(current_setting('tessera.audit_guard', true), '') = 'lifted'
       AND pg_has_role(current_user,
                       (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        IF TG_LEVEL = 'ROW' THEN RETURN OLD; END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER monitoring_auditseal_no_update_delete
    BEFORE UPDATE OR DELETE ON monitoring_auditseal
    FOR EACH ROW EXECUTE FUNCTION monitoring_audit_append_only();
CREATE TRIGGER monitoring_auditseal_no_truncate
    BEFORE TRUNCATE ON monitoring_auditseal
    FOR EACH STATEMENT EXECUTE FUNCTION monitoring_audit_append_only();
"""

PG_SEAL_UNINSTALL = """
DROP TRIGGER IF EXISTS monitoring_auditseal_no_update_delete ON monitoring_auditseal;
DROP TRIGGER IF EXISTS monitoring_auditseal_no_truncate ON monitoring_auditseal;
DROP FUNCTION IF EXISTS monitoring_audit_append_only();
"""

SQLITE_SEAL_INSTALL = [
    """
    CREATE TRIGGER IF NOT EXISTS monitoring_auditseal_no_update
    BEFORE UPDATE ON monitoring_auditseal
    BEGIN SELECT RAISE(ABORT, 'monitoring_auditseal is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS monitoring_auditseal_no_delete
    BEFORE DELETE ON monitoring_auditseal
    WHEN NOT tessera_audit_guard_lifted()
    BEGIN SELECT RAISE(ABORT, 'monitoring_auditseal is append-only: DELETE refused'); END
    """,
]

SQLITE_SEAL_TRIGGERS = frozenset(
    {"monitoring_auditseal_no_update", "monitoring_auditseal_no_delete"}
)

SQLITE_SEAL_UNINSTALL = [
    "DROP TRIGGER IF EXISTS monitoring_auditseal_no_update",
    "DROP TRIGGER IF EXISTS monitoring_auditseal_no_delete",
]
