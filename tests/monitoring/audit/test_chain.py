"""The audit trail is append-only at the database and hash-chained (PCI DSS 10.2, 10.3.2)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from monitoring.audit.canonical import (
    GENESIS,
    PG_INSTALL,
    PG_UNINSTALL,
    SQLITE_INSTALL,
    SQLITE_UNINSTALL,
    event_digest,
)
from monitoring.audit.chain import chain_append, chain_verify, row_digest
from monitoring.audit.guard import audit_guard_lifted, sqlite_guard_restore
from monitoring.audit.models import AuditEvent
from monitoring.audit.services import audit_record
from monitoring.observability.context import request_id_var, source_ip_var

db = pytest.mark.django_db


def _record(n: int) -> list[AuditEvent]:
    return [
        audit_record(action="token.create", object_type="token", object_id=f"tok_{i}")
        for i in range(n)
    ]


@contextmanager
def triggers_dropped() -> Iterator[None]:
    """What an attacker with DDL rights would do first; put back afterwards."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_UNINSTALL)
        else:
            for sql in SQLITE_UNINSTALL:
                cursor.execute(sql)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(PG_INSTALL)
            else:
                for sql in SQLITE_INSTALL:
                    cursor.execute(sql)


@db
def test_each_event_links_to_the_previous_one_over_canonical_json() -> None:
    # given a request context
    request_id_var.set("req-1")
    source_ip_var.set("2001:db8:0:0::1")
    try:
        first, second = _record(2)
    finally:
        request_id_var.set(None)
        source_ip_var.set(None)

    # then the chain starts at genesis and each hash covers content plus the previous hash
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert second.request_id == "req-1"
    assert second.source_ip == "2001:db8::1"
    assert second.hash == event_digest(
        occurred_at=second.occurred_at,
        actor="system",
        action="token.create",
        object_type="token",
        object_id="tok_1",
        outcome="success",
        reason="",
        source_ip="2001:db8::1",
        request_id="req-1",
        data={},
        prev_hash=first.hash,
    )
    assert chain_verify().ok


@db
def test_card_data_handed_to_the_trail_is_redacted_before_hashing() -> None:
    event = audit_record(action="card.refused", data={"cvc": "123", "note": "4242424242424242"})

    event.refresh_from_db()
    assert event.data == {"cvc": "[REDACTED]", "note": "[REDACTED-PAN]"}
    assert chain_verify().ok


@db
def test_update_is_refused_by_the_database() -> None:
    event = _record(1)[0]

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(outcome="failure")

    event.refresh_from_db()
    assert event.outcome == "success"


@db
def test_update_is_refused_even_with_the_guard_lifted() -> None:
    event = _record(1)[0]

    with (
        audit_guard_lifted(),
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
    ):
        AuditEvent.objects.filter(pk=event.pk).update(actor="someone-else")


@db
def test_delete_is_refused_by_the_database() -> None:
    event = _record(1)[0]

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


@db
def test_raw_sql_delete_is_refused_by_the_database() -> None:
    _record(1)

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM monitoring_auditevent")

    assert AuditEvent.objects.count() == 1


@db
def test_truncate_is_refused_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE is covered above")
    _record(1)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE monitoring_auditevent")

    assert AuditEvent.objects.count() == 1


@db
def test_setting_the_guard_flag_does_not_help_a_role_that_does_not_own_the_table() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("roles exist on PostgreSQL only")
    _record(1)
    with connection.cursor() as cursor:
        cursor.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tessera_app_test')"
            " THEN CREATE ROLE tessera_app_test; END IF; END $$"
        )
        cursor.execute("GRANT SELECT, DELETE ON monitoring_auditevent TO tessera_app_test")

    # when a non-owner role with DELETE privilege sets the flag and deletes
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL ROLE tessera_app_test")
        cursor.execute("SELECT set_config('tessera.audit_guard', 'lifted', true)")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("DELETE FROM monitoring_auditevent")

    assert AuditEvent.objects.count() == 1


@db
def test_verify_reports_the_row_altered_by_raw_sql() -> None:
    # given a chain of five events
    events = _record(5)
    target = events[2]

    # when someone with DDL rights drops the triggers and rewrites one row
    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE monitoring_auditevent SET outcome = 'failure' WHERE id = %s", [target.pk]
        )

    # then the verifier names exactly that row
    report = chain_verify()
    assert report.broken_at == target.pk
    assert "altered" in report.problem
    assert report.checked == 2
    with pytest.raises(CommandError, match=f"id={target.pk}"):
        call_command("verify_audit_chain")


@db
def test_verify_reports_a_removed_row_at_its_successor() -> None:
    events = _record(4)

    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM monitoring_auditevent WHERE id = %s", [events[1].pk])

    report = chain_verify()
    assert report.broken_at == events[2].pk
    assert "removed" in report.problem


@db
def test_verify_reports_a_row_rehashed_in_place_at_its_successor() -> None:
    # given an attacker who alters a row and also recomputes that row's own hash
    events = _record(3)
    target = events[1]
    forged = event_digest(
        occurred_at=target.occurred_at,
        actor="system",
        action="token.create",
        object_type="token",
        object_id="tok_forged",
        outcome="success",
        reason="",
        source_ip=None,
        request_id="",
        data={},
        prev_hash=target.prev_hash,
    )
    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE monitoring_auditevent SET object_id = 'tok_forged', hash = %s WHERE id = %s",
            [forged, target.pk],
        )

    # then the next row no longer links to it
    assert chain_verify().broken_at == events[2].pk


@db
def test_verify_command_prints_the_head_of_an_intact_chain() -> None:
    last = _record(3)[-1]
    out = StringIO()

    call_command("verify_audit_chain", stdout=out)

    assert out.getvalue().strip() == f"audit chain intact: 3 events, head {last.pk}:{last.hash}"


def _rehash_from(events: list[AuditEvent], start: int, object_id: str) -> None:
    """An attacker with DDL rights rewrites row ``start`` and recomputes every later hash, so
    the chain alone verifies again."""
    prev_hash = events[start].prev_hash
    with triggers_dropped(), connection.cursor() as cursor:
        for index, event in enumerate(events[start:]):
            event.refresh_from_db()
            if index == 0:
                event.object_id = object_id
            event.prev_hash = prev_hash
            digest = row_digest(event)
            cursor.execute(
                "UPDATE monitoring_auditevent SET object_id = %s, prev_hash = %s, hash = %s "
                "WHERE id = %s",
                [event.object_id, prev_hash, digest, event.pk],
            )
            prev_hash = digest


@db
def test_an_anchor_catches_a_rewritten_and_rehashed_chain() -> None:
    events = _record(4)
    anchor = f"{events[2].pk}:{events[2].hash}"

    _rehash_from(events, 1, "tok_forged")

    assert chain_verify().ok  # the chain alone cannot tell
    report = chain_verify(anchors={events[2].pk: events[2].hash})
    assert report.broken_at == events[2].pk
    assert "rewritten" in report.problem
    with pytest.raises(CommandError, match=f"id={events[2].pk}"):
        call_command("verify_audit_chain", "--anchor", anchor)


@db
def test_an_anchor_catches_rows_cut_off_the_end() -> None:
    events = _record(4)
    head = f"{events[-1].pk}:{events[-1].hash}"
    call_command("verify_audit_chain", "--anchor", head, stdout=StringIO())

    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM monitoring_auditevent WHERE id >= %s", [events[2].pk])

    assert chain_verify().ok  # a shorter chain is still a valid chain
    with pytest.raises(CommandError, match=f"id={events[-1].pk}.*cut off the end"):
        call_command("verify_audit_chain", "--anchor", head)


@db
def test_verify_refuses_a_malformed_anchor_with_a_clear_error() -> None:
    _record(1)
    for bad in ("12", "x:" + "0" * 64, "3:" + "0" * 63, "3:" + "g" * 64):
        with pytest.raises(CommandError, match="--anchor must be ID:HASH"):
            call_command("verify_audit_chain", "--anchor", bad)


@db
def test_beat_logs_the_head_as_an_anchor_verify_accepts(caplog: pytest.LogCaptureFixture) -> None:
    from django.conf import settings

    from payments_site.celery import app

    app.loader.import_default_modules()
    assert "monitoring.audit_chain_anchor" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    last = _record(2)[-1]

    # (Celery's Django fixup re-runs logging setup when it imports the task modules, dropping
    # caplog's root handler: listen on the logger itself.)
    audit_logger = logging.getLogger("monitoring.audit.chain")
    audit_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="monitoring.audit.chain"):
            anchor = app.tasks["monitoring.audit_chain_anchor"].apply().get()
    finally:
        audit_logger.removeHandler(caplog.handler)

    assert anchor == f"{last.pk}:{last.hash}"
    (record,) = [r for r in caplog.records if r.getMessage() == "audit_chain_head"]
    assert record.anchor == anchor  # type: ignore[attr-defined]
    out = StringIO()
    call_command("verify_audit_chain", "--anchor", anchor, stdout=out)
    assert out.getvalue().strip().endswith(f"head {anchor}")


@db
def test_export_writes_json_lines_since_a_date(tmp_path: Path) -> None:
    # given events on either side of the cut-off
    old = chain_append(
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        actor="system",
        action="old.event",
        object_type="",
        object_id="",
        outcome="success",
        reason="",
        source_ip=None,
        request_id="",
        data={},
    )
    recent = _record(2)
    output = tmp_path / "audit.jsonl"

    call_command("export_audit", since="2025-06-01", output=str(output), stderr=StringIO())

    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["id"] for line in lines] == [e.pk for e in recent]
    assert lines[0]["prev_hash"] == old.hash
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    assert set(lines[0]) == {
        "id",
        "occurred_at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "outcome",
        "reason",
        "source_ip",
        "request_id",
        "data",
        "prev_hash",
        "hash",
    }


@db
def test_exported_lines_verify_on_their_own(tmp_path: Path) -> None:
    _record(3)
    output = tmp_path / "audit.jsonl"
    call_command("export_audit", since="2000-01-01", output=str(output), stderr=StringIO())

    prev = GENESIS
    for raw in output.read_text().splitlines():
        line = json.loads(raw)
        assert line["prev_hash"] == prev
        assert line["hash"] == event_digest(
            occurred_at=datetime.fromisoformat(line["occurred_at"]),
            actor=line["actor"],
            action=line["action"],
            object_type=line["object_type"],
            object_id=line["object_id"],
            outcome=line["outcome"],
            reason=line["reason"],
            source_ip=line["source_ip"],
            request_id=line["request_id"],
            data=line["data"],
            prev_hash=line["prev_hash"],
        )
        prev = line["hash"]


@db
def test_export_rejects_a_bad_date() -> None:
    with pytest.raises(CommandError, match="Not an ISO date"):
        call_command("export_audit", since="last tuesday")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_linear_chain() -> None:
    # given several threads (each its own database connection) writing at once
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(8):
                audit_record(action="concurrent", object_id=f"{n}-{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every event made it and the chain has no fork
    assert errors == []
    assert AuditEvent.objects.count() == 32
    report = chain_verify()
    assert report.ok
    assert report.checked == 32
    assert AuditEvent.objects.values("prev_hash").distinct().count() == 32


@db
def test_old_timestamps_verify_after_a_round_trip() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC) + timedelta(0)
    chain_append(
        occurred_at=moment,
        actor="x" * 300,
        action="a",
        object_type="",
        object_id="",
        outcome="success",
        reason="",
        source_ip="::ffff:10.0.0.1",
        request_id="",
        data={"n": 1.5, "nested": {"b": [1, 2], "a": "é"}},
    )

    assert chain_verify().ok


@db
def test_migrate_puts_back_sqlite_triggers_a_table_rebuild_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL keeps triggers across ALTER TABLE")
    event = _record(1)[0]
    # what Django's SQLite table rebuild (any AlterField on the table) does to its triggers
    with connection.cursor() as cursor:
        for sql in SQLITE_UNINSTALL:
            cursor.execute(sql)
    assert sqlite_guard_restore() is True  # (and a second look finds nothing to do)
    assert sqlite_guard_restore() is False
    assert [r.getMessage() for r in caplog.records if r.name == "monitoring.audit.guard"] == [
        "audit_guard_restored"
    ]
    with connection.cursor() as cursor:
        for sql in SQLITE_UNINSTALL:
            cursor.execute(sql)

    call_command("migrate", verbosity=0)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(actor="someone else")
    assert AuditEvent.objects.filter(pk=event.pk, actor=event.actor).exists()
