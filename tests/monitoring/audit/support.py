"""Helpers for the audit-trail tests: an attacker's tools and a small real trail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from monitoring.audit.canonical import (
    PG_INSTALL,
    PG_SEAL_INSTALL,
    PG_SEAL_UNINSTALL,
    PG_UNINSTALL,
    SQLITE_INSTALL,
    SQLITE_SEAL_INSTALL,
    SQLITE_SEAL_UNINSTALL,
    SQLITE_UNINSTALL,
)
from monitoring.audit.models import AuditEvent
from monitoring.audit.services import audit_record


def record(n: int, *, prefix: str = "tok") -> list[AuditEvent]:
    return [
        audit_record(action="token.create", object_type="token", object_id=f"{prefix}_{i}")
        for i in range(n)
    ]


@contextmanager
def triggers_dropped() -> Iterator[None]:
    """What an attacker with DDL rights would do first; put back afterwards."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_SEAL_UNINSTALL)
            cursor.execute(PG_UNINSTALL)
        else:
            for sql in [*SQLITE_UNINSTALL, *SQLITE_SEAL_UNINSTALL]:
                cursor.execute(sql)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(PG_INSTALL)
                cursor.execute(PG_SEAL_INSTALL)
            else:
                for sql in [*SQLITE_INSTALL, *SQLITE_SEAL_INSTALL]:
                    cursor.execute(sql)
