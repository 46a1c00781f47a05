"""Pure parts of the audit hash chain: canonical form, digest and the trigger SQL.

No model imports, so migrations can use them as they were when the migration was written.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
AUDIT_TABLE = "monitoring_auditevent"
CHAIN_VERSION = 1

# PostgreSQL advisory lock key for the chain head: any 64-bit constant unique to this purpose.
ADVISORY_LOCK_KEY = 0x7E55_E8A0_A0D1_7001

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
