"""Events carry their own digest and are linked by seals instead of one hash chain.

The old chain (``prev_hash``/``hash``, written under a global lock) is checked row by row while
each event gets its digest: a chain already broken stops the migration, so nothing tampered
with before it is sealed as if it were genuine. The first seal then covers every old event.
The append-only triggers are lifted only inside this migration's transaction, and the seals
get the same guard.
"""

from django.db import migrations, models

from monitoring.audit.canonical import (
    GENESIS,
    PG_INSTALL,
    PG_SEAL_INSTALL,
    PG_SEAL_UNINSTALL,
    PG_UNINSTALL,
    SQLITE_INSTALL,
    SQLITE_SEAL_INSTALL,
    SQLITE_SEAL_UNINSTALL,
    SQLITE_UNINSTALL,
    event_digest,
    event_digest_v1,
)


def _run(schema_editor, pg, sqlite):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(pg, params=None)
    elif vendor == "sqlite":
        for statement in sqlite:
            schema_editor.execute(statement, params=None)
    else:
        raise NotImplementedError(f"No append-only guard for {vendor}")


def drop_event_guard(apps, schema_editor):
    _run(schema_editor, PG_UNINSTALL, SQLITE_UNINSTALL)


def install_event_guard(apps, schema_editor):
    _run(schema_editor, PG_INSTALL, SQLITE_INSTALL)


def install_guards(apps, schema_editor):
    _run(schema_editor, PG_INSTALL, SQLITE_INSTALL)
    _run(schema_editor, PG_SEAL_INSTALL, SQLITE_SEAL_INSTALL)


def uninstall_seal_guard(apps, schema_editor):
    _run(schema_editor, PG_SEAL_UNINSTALL, SQLITE_SEAL_UNINSTALL)
    _run(schema_editor, PG_UNINSTALL, SQLITE_UNINSTALL)


def digests_from_checked_chain(apps, schema_editor):
    AuditEvent = apps.get_model("monitoring", "AuditEvent")
    prev = GENESIS
    rows = AuditEvent.objects.using(schema_editor.connection.alias).order_by("id")
    for event in rows.iterator(chunk_size=2000):
        content = {
            "occurred_at": event.occurred_at,
            "actor": event.actor,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "outcome": event.outcome,
            "reason": event.reason,
            "source_ip": event.source_ip,
            "request_id": event.request_id,
            "data": event.data,
        }
        if event.prev_hash != prev or event_digest_v1(**content, prev_hash=prev) != event.hash:
            raise RuntimeError(
                f"audit chain broken at event id={event.id}: refusing to seal it; investigate "
                "with the previous release's verify_audit_chain first"
            )
        prev = event.hash
        event.digest = event_digest(**content)
        event.save(update_fields=["digest"])


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0006_securityalert_global_scope"),
    ]

    operations = [
        migrations.RunPython(drop_event_guard, install_event_guard),
        migrations.AddField(
            model_name="auditevent",
            name="digest",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(digests_from_checked_chain, migrations.RunPython.noop),
        migrations.RemoveField(model_name="auditevent", name="prev_hash"),
        migrations.RemoveField(model_name="auditevent", name="hash"),
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveBigIntegerField(unique=True)),
                ("low_id", models.BigIntegerField()),
                ("high_id", models.BigIntegerField()),
                ("events", models.JSONField(default=list)),
                ("prev_hash", models.CharField(max_length=64)),
                ("hash", models.CharField(max_length=64, unique=True)),
                ("sealed_at", models.DateTimeField()),
                ("key_id", models.CharField(blank=True, max_length=128)),
                ("signature", models.CharField(blank=True, max_length=256)),
            ],
            options={"ordering": ["-number"]},
        ),
        migrations.RunPython(install_guards, uninstall_seal_guard),
    ]
