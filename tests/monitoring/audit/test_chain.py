"""Appending to the audit trail: one INSERT with its own digest, no lock; the database keeps
events and seals append-only (PCI DSS 10.2, 10.3.2)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from monitoring.audit.canonical import SQLITE_SEAL_UNINSTALL, SQLITE_UNINSTALL, event_digest
from monitoring.audit.chain import event_append, row_digest
from monitoring.audit.guard import audit_guard_lifted, sqlite_guard_restore
from monitoring.audit.models import AuditEvent, AuditSeal
from monitoring.audit.sealer import seal_pending
from monitoring.audit.services import audit_record
from monitoring.observability.context import request_id_var, source_ip_var
from tests.monitoring.audit.support import record as _record

db = pytest.mark.django_db


@db
def test_each_event_carries_the_digest_of_its_canonical_content() -> None:
    # given a request context
    request_id_var.set("req-1")
    source_ip_var.set("2001:db8:0:0::1")
    try:
        first, second = _record(2)
    finally:
        request_id_var.set(None)
        source_ip_var.set(None)

    # then each digest covers that event's content alone, as the database gives it back
    second.refresh_from_db()
    assert second.request_id == "req-1"
    assert second.source_ip == "2001:db8::1"
    assert second.digest == event_digest(
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
    )
    assert first.digest != second.digest
    assert row_digest(first) == first.digest


@db
def test_appending_is_one_insert_and_takes_no_lock() -> None:
    with CaptureQueriesContext(connection) as queries:
        audit_record(action="token.create", object_type="token", object_id="tok_1")

    statements = [q["sql"].upper() for q in queries.captured_queries]
    inserts = [sql for sql in statements if sql.startswith("INSERT")]
    assert len(inserts) == 1 and "MONITORING_AUDITEVENT" in inserts[0]
    assert not [sql for sql in statements if "LOCK" in sql or sql.startswith("SELECT")]


@pytest.mark.django_db(transaction=True)
def test_a_writer_never_waits_for_another_open_audit_transaction() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time by design")
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other_request() -> None:
        try:
            with transaction.atomic():
                audit_record(action="charge.create", object_id="held")
                holding.set()
                release.wait(30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_request)
    thread.start()
    try:
        assert holding.wait(30)
        # when another transaction appends while the first is still open, any lock wait at
        # all fails at once instead of queuing behind it
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1ms'")
            audit_record(action="charge.create", object_id="not-waiting")
    finally:
        release.set()
        thread.join()
    assert errors == []
    assert set(AuditEvent.objects.values_list("object_id", flat=True)) == {
        "held",
        "not-waiting",
    }


@db
def test_card_data_handed_to_the_trail_is_redacted_before_hashing() -> None:
    event = audit_record(action="card.refused", data={"cvc": "123", "note": "4242424242424242"})

    event.refresh_from_db()
    assert event.data == {"cvc": "[REDACTED]", "note": "[REDACTED-PAN]"}
    assert row_digest(event) == event.digest


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
def test_old_timestamps_and_odd_values_keep_their_digest_after_a_round_trip() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC) + timedelta(0)
    event = event_append(
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

    stored = AuditEvent.objects.get(pk=event.pk)
    assert row_digest(stored) == stored.digest == event.digest


@db
@pytest.mark.parametrize(
    "data",
    [
        {"amount": 1999, "currency": "EUR", "live": False, "reason": None},  # flat: as it is
        {"ids": ("ch_1", "ch_2"), "status": AuditEvent.Outcome.DENIED},  # tuple, enum member
        {"big": 2**70, "flag": True, "nested": {"b": [1, (2, 3)]}},
    ],
)
def test_the_digest_covers_data_as_the_database_gives_it_back(data: dict[object, object]) -> None:
    event = event_append(
        occurred_at=datetime(2030, 1, 31, tzinfo=UTC),
        actor="a",
        action="a",
        object_type="",
        object_id="",
        outcome="success",
        reason="",
        source_ip=None,
        request_id="",
        data=data,  # type: ignore[arg-type]
    )

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.data == event.data
    assert row_digest(stored) == stored.digest == event.digest


@db
def test_seals_refuse_update_and_delete_like_events() -> None:
    _record(1)
    seal = seal_pending(sign=True).seal
    assert seal is not None

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditSeal.objects.filter(pk=seal.pk).update(high_id=0)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditSeal.objects.filter(pk=seal.pk).delete()
    with (
        audit_guard_lifted(),
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
    ):
        AuditSeal.objects.filter(pk=seal.pk).update(signature="")
    assert AuditSeal.objects.get(pk=seal.pk).signature == seal.signature


@db
def test_migrate_puts_back_sqlite_triggers_a_table_rebuild_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL keeps triggers across ALTER TABLE")
    event = _record(1)[0]
    seal = seal_pending(sign=False).seal
    assert seal is not None
    # what Django's SQLite table rebuild (any AlterField on the table) does to its triggers
    with connection.cursor() as cursor:
        for sql in [*SQLITE_UNINSTALL, *SQLITE_SEAL_UNINSTALL]:
            cursor.execute(sql)
    assert sqlite_guard_restore() is True  # (and a second look finds nothing to do)
    assert sqlite_guard_restore() is False
    assert [r.getMessage() for r in caplog.records if r.name == "monitoring.audit.guard"] == [
        "audit_guard_restored",  # events
        "audit_guard_restored",  # seals
    ]
    with connection.cursor() as cursor:
        for sql in [*SQLITE_UNINSTALL, *SQLITE_SEAL_UNINSTALL]:
            cursor.execute(sql)

    call_command("migrate", verbosity=0)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(actor="someone else")
    assert AuditEvent.objects.filter(pk=event.pk, actor=event.actor).exists()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditSeal.objects.filter(pk=seal.pk).delete()
