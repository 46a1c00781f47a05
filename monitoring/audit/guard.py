"""The audit trail's append-only guard: the database refuses UPDATE and DELETE of its rows.

Triggers (migration 0002, SQL in ``canonical.py``) refuse them; the guard can be lifted only by
``audit_guard_lifted()``, and on PostgreSQL only by the table's owner, who could drop the
triggers anyway: lifting it is explicit and never happens in the application. No model import:
``MonitoringConfig`` wires these in before the models registry is ready.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection as default_connection
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.recorder import MigrationRecorder

from monitoring.audit.canonical import (
    AUDIT_TABLE,
    PG_GUARD_SETTING,
    SEAL_TABLE,
    SQLITE_GUARD_FUNCTION,
    SQLITE_INSTALL,
    SQLITE_SEAL_INSTALL,
    SQLITE_SEAL_TRIGGERS,
    SQLITE_TRIGGERS,
)

logger = logging.getLogger(__name__)


def sqlite_register_guard(wrapper: BaseDatabaseWrapper) -> None:
    """Give a new SQLite connection the function its triggers consult.

    A connection without it (the ``sqlite3`` shell, another program) cannot delete rows at
    all: the trigger fails with "no such function", so the guard fails closed.
    """
    wrapper.connection.create_function(
        SQLITE_GUARD_FUNCTION,
        0,
        lambda: 1 if getattr(wrapper, "_tessera_audit_guard_lifted", False) else 0,
    )


@contextmanager
def audit_guard_lifted(using: BaseDatabaseWrapper | None = None) -> Iterator[None]:
    """Allow DELETE/TRUNCATE of audit rows on this connection while the block runs.

    For maintenance that a person decides on (a test database flush; a purge of rows older
    than the retention period after they were exported). UPDATE stays refused.
    """
    conn = using or default_connection
    conn.ensure_connection()
    if conn.vendor == "postgresql":
        with conn.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'lifted', false)", [PG_GUARD_SETTING])
        try:
            yield
        finally:
            with conn.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, '', false)", [PG_GUARD_SETTING])
    else:
        conn._tessera_audit_guard_lifted = True  # type: ignore[attr-defined]
        try:
            yield
        finally:
            conn._tessera_audit_guard_lifted = False  # type: ignore[attr-defined]


# Each guarded table, the migration that first guards it, its triggers and their SQL.
GUARDS = (
    (AUDIT_TABLE, ("monitoring", "0002_auditevent_append_only"), SQLITE_TRIGGERS, SQLITE_INSTALL),
    (
        SEAL_TABLE,
        ("monitoring", "0007_audit_digest_and_seals"),
        SQLITE_SEAL_TRIGGERS,
        SQLITE_SEAL_INSTALL,
    ),
)


def sqlite_guard_restore(using: str = "default") -> bool:
    """Put the SQLite triggers back if a table rebuild dropped them; True if it had to.

    Django alters a SQLite table by copying it into a new one, which loses its triggers, so a
    later migration of a guarded table would silently lift the guard. This runs after every
    ``migrate`` (``post_migrate``) for each table whose guarding migration is applied.
    PostgreSQL keeps triggers across ``ALTER TABLE``: nothing to do there.
    """
    connection = connections[using]
    if connection.vendor != "sqlite":
        return False
    applied = MigrationRecorder(connection).applied_migrations()
    restored = False
    with connection.cursor() as cursor:
        for table, migration, triggers, install in GUARDS:
            if migration not in applied:
                continue
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [table],
            )
            present = {row[0] for row in cursor.fetchall()}
            if present >= triggers:
                continue
            for statement in install:
                cursor.execute(statement)
            logger.warning("audit_guard_restored", extra={"missing": sorted(triggers - present)})
            restored = True
    return restored
