"""Make the audit trail append-only and hash-chained.

Rows written before this migration get their chain computed once, in id order, before the
triggers exist; from then on the database refuses UPDATE and DELETE (and TRUNCATE).

Note for later migrations of this table on SQLite: Django rebuilds a SQLite table to alter it,
which drops its triggers; ``monitoring.audit.guard.sqlite_guard_restore`` puts them back after every
``migrate`` (post_migrate).
"""

from django.db import migrations

from monitoring.audit.canonical import (
    GENESIS,
    PG_INSTALL,
    PG_UNINSTALL,
    SQLITE_INSTALL,
    SQLITE_UNINSTALL,
    canonical_ip,
    event_digest_v1,
)


def backfill_chain(apps, schema_editor):
    AuditEvent = apps.get_model("monitoring", "AuditEvent")
    prev = GENESIS
    for event in AuditEvent.objects.using(schema_editor.connection.alias).order_by("id"):
        event.source_ip = canonical_ip(event.source_ip)
        event.prev_hash = prev
        event.hash = event_digest_v1(
            occurred_at=event.occurred_at,
            actor=event.actor,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            outcome=event.outcome,
            reason=event.reason,
            source_ip=event.source_ip,
            request_id=event.request_id,
            data=event.data,
            prev_hash=prev,
        )
        event.save(update_fields=["source_ip", "prev_hash", "hash"])
        prev = event.hash


def install_guard(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_INSTALL, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_INSTALL:
            schema_editor.execute(statement, params=None)
    else:
        raise NotImplementedError(f"No append-only guard for {vendor}")


def uninstall_guard(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_UNINSTALL, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_UNINSTALL:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(backfill_chain, migrations.RunPython.noop),
        migrations.RunPython(install_guard, uninstall_guard),
    ]
