"""The sealer links committed events into signed seals, and never loses one committed late."""

from __future__ import annotations

import logging
import random
import threading
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.test import override_settings

from monitoring.audit import sealer
from monitoring.audit.canonical import GENESIS, canonical_time, seal_digest
from monitoring.audit.models import AuditEvent, AuditSeal
from monitoring.audit.sealer import seal_pending
from monitoring.audit.services import audit_record
from monitoring.audit.signing import head_signer, signature_valid
from tests.monitoring.audit.support import record, triggers_dropped

db = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="concurrent writers commit out of id order only on PostgreSQL",
)


def _sealed_ids() -> list[int]:
    return sorted(pair[0] for seal in AuditSeal.objects.all() for pair in seal.events)


@db
def test_a_seal_lists_each_new_event_and_links_to_the_previous_seal() -> None:
    first_events = record(3)
    first = seal_pending(sign=True).seal
    later_events = record(2)
    outcome = seal_pending(sign=False)
    second = outcome.seal

    assert first is not None and second is not None
    assert first.number == 1 and first.prev_hash == GENESIS and first.low_id == 0
    assert first.events == [[e.pk, e.digest] for e in first_events]
    assert (second.number, second.prev_hash, second.low_id) == (2, first.hash, first.high_id)
    assert second.events == [[e.pk, e.digest] for e in later_events]
    assert outcome.sealed == 2 and not outcome.signed and second.signature == ""
    assert second.hash == seal_digest(
        number=2,
        low_id=first.high_id,
        high_id=later_events[-1].pk,
        events=second.events,
        prev_hash=first.hash,
        sealed_at=canonical_time(second.sealed_at),
    )


@db
def test_the_head_is_signed_with_the_audit_key_when_the_interval_is_up() -> None:
    with override_settings(AUDIT_SIGN_INTERVAL_SECONDS=3600):
        record(1)
        first = seal_pending().seal  # nothing signed yet: due
        record(1)
        second = seal_pending().seal  # signed a moment ago: not due
    with override_settings(AUDIT_SIGN_INTERVAL_SECONDS=0):
        record(1)
        third = seal_pending().seal

    assert first is not None and second is not None and third is not None
    signer = head_signer()
    assert [bool(s.signature) for s in (first, second, third)] == [True, False, True]
    for seal in (first, third):
        assert seal.key_id == signer.key_id
        assert signature_valid(signer.public_pem, seal.hash, seal.signature)
    assert not signature_valid(signer.public_pem, second.hash, first.signature)


@db
def test_a_quiet_trail_gets_its_head_signed_by_an_empty_seal() -> None:
    record(2)
    assert seal_pending(sign=True).signed
    record(1)
    assert not seal_pending(sign=False).signed

    outcome = seal_pending(sign=True)

    assert outcome.signed and outcome.sealed == 0
    assert outcome.seal is not None and outcome.seal.events == []
    assert outcome.seal.low_id == outcome.seal.high_id
    # and once the head is signed, nothing new means no seal at all
    assert seal_pending(sign=True).seal is None


@db
def test_the_sealer_refuses_a_chain_that_lost_the_head_it_signed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    record(2)
    signed = seal_pending(sign=True).seal
    record(2)
    assert seal_pending(sign=True).signed
    assert signed is not None

    # when someone cuts the newest seal and its events off the end, in the database
    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM monitoring_auditseal WHERE number > %s", [signed.number])
        cursor.execute("DELETE FROM monitoring_auditevent WHERE id > %s", [signed.high_id])
    record(1)

    # then the sealer neither extends nor signs the shortened chain, and says why
    outcome = seal_pending(sign=True)
    assert outcome.refused.startswith("seal 2") and outcome.seal is None
    assert AuditSeal.objects.count() == 1
    assert "audit_chain_rewritten" in [r.getMessage() for r in caplog.records]
    with pytest.raises(CommandError, match="audit chain rewritten: seal 2"):
        call_command("verify_audit_chain", stdout=StringIO())


@db
def test_beat_seals_every_second_and_logs_the_signed_head(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from payments_site.celery import app

    app.loader.import_default_modules()
    (entry,) = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "monitoring.audit_seal"
    ]
    assert entry["schedule"] == 1.0
    events = record(2)

    # (Celery's Django fixup re-runs logging setup when it imports the task modules, dropping
    # caplog's root handler: listen on the logger itself.)
    audit_logger = logging.getLogger("monitoring.audit.sealer")
    audit_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="monitoring.audit.sealer"):
            result = app.tasks["monitoring.audit_seal"].apply().get()
    finally:
        audit_logger.removeHandler(caplog.handler)

    seal = AuditSeal.objects.get()
    assert result == {"seal": 1, "sealed": 2, "signed": True, "held_back": 0, "refused": ""}
    assert seal.events == [[e.pk, e.digest] for e in events]
    (logged,) = [r for r in caplog.records if r.getMessage() == "audit_chain_head"]
    assert logged.anchor == f"1:{seal.hash}"  # type: ignore[attr-defined]
    out = StringIO()
    call_command("verify_audit_chain", "--anchor", logged.anchor, stdout=out)  # type: ignore[attr-defined]
    assert "intact: 2 events in 1 seals" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_writing_process_seals_after_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("monitoring.audit.services.seal_soon", sealer.seal_soon)
    monkeypatch.setattr(sealer, "_inline_last", 0.0)
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True), transaction.atomic():
        event = audit_record(action="token.create", object_id="tok_inline")
        assert not AuditSeal.objects.exists()  # not before the event commits

    assert _sealed_ids() == [event.pk]
    # and at most once per interval per process
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True):
        audit_record(action="token.create", object_id="tok_soon_after")
    assert AuditSeal.objects.count() == 1


class _OpenTransaction:
    """A request on its own connection that appends an event and stays open until told."""

    def __init__(self, name: str) -> None:
        self.drawn, self.release = threading.Event(), threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(name,))
        self.thread.start()
        assert self.drawn.wait(30)

    def _run(self, name: str) -> None:
        try:
            with transaction.atomic():
                audit_record(action="charge.create", object_id=name)
                self.drawn.set()
                self.release.wait(30)
        except BaseException as exc:  # pragma: no cover - reported below
            self.errors.append(exc)
        finally:
            connections.close_all()

    def commit(self) -> None:
        self.release.set()
        self.thread.join()
        assert self.errors == []


def _verify_output() -> str:
    out = StringIO()
    with override_settings(AUDIT_SEAL_SETTLE_SECONDS=0.05):
        call_command("verify_audit_chain", stdout=out)
    return out.getvalue().strip()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_a_higher_id_is_sealed_not_lost() -> None:
    # given a transaction that drew an event id and is still open, and a higher id committed
    slow = _OpenTransaction("slow")
    fast = record(1, prefix="fast")[0]
    slow_id = fast.pk - 1

    # when the sealer runs meanwhile, it seals nothing from the open transaction's start on
    held = seal_pending(settle_timeout=0.05)
    assert held.held_back >= 1 and held.seal is None

    # and when the slow one commits while a newer one is open, the sealer gets up to what it
    # saw before that newer one began: the late event is sealed, the newest wait
    slow.commit()
    newer = _OpenTransaction("newer")
    newest = record(1, prefix="newest")[0]
    partial = seal_pending(settle_timeout=0.05)
    assert partial.held_back >= 1
    assert _sealed_ids() == [slow_id, fast.pk]
    # and verify_audit_chain reports the newest as the unsealed window
    assert _verify_output().endswith(
        f"unsealed: 1 events from id {newest.pk}, oldest {canonical_time(newest.occurred_at)}"
    )

    # then once everything committed, every event is sealed exactly once
    newer.commit()
    seal_pending(sign=True)
    assert AuditEvent.objects.get(pk=slow_id).object_id == "slow"
    assert _sealed_ids() == sorted(AuditEvent.objects.values_list("pk", flat=True))
    assert len(_sealed_ids()) == 4
    assert "intact: 4 events" in _verify_output()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_committing_in_any_order_are_all_sealed_once() -> None:
    # given writers whose transactions stay open for varying times, some rolled back, and a
    # sealer running all along
    stop = threading.Event()
    errors: list[BaseException] = []
    committed: list[int] = []
    lock = threading.Lock()
    sealed_midway = threading.Event()

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for i in range(10):
                if i == 5:
                    # halfway, let the sealer in: on SQLite its write can otherwise lose every
                    # race for the lock to the writers' transactions
                    sealed_midway.wait(timeout=30)
                try:
                    with transaction.atomic():
                        event = audit_record(action="concurrent", object_id=f"{n}-{i}")
                        stop.wait(rng.random() * 0.2)
                        if rng.random() < 0.2:
                            raise RuntimeError("rolled back")
                    with lock:
                        committed.append(event.pk)
                except RuntimeError:
                    pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def sealing() -> None:
        try:
            while not stop.is_set():
                if seal_pending(settle_timeout=0.01).sealed:
                    sealed_midway.set()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    background = threading.Thread(target=sealing)
    background.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    background.join()
    seal_pending(sign=True)

    # then every committed event is in exactly one seal, and the trail verifies
    assert errors == []
    assert len(committed) > 30
    assert _sealed_ids() == sorted(committed)
    assert AuditSeal.objects.count() > 1
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert f"intact: {len(committed)} events" in out.getvalue()
