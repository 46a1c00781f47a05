"""``export_audit`` writes whole seals ending at a signed one, so an archive verifies on its own
with the public key; ``verify_audit_chain`` checks the live trail and reports its unsealed
window (PCI DSS 10.3.4, 10.5.1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from monitoring.audit.chain import event_append
from monitoring.audit.models import AuditSeal
from monitoring.audit.sealer import seal_pending
from tests.monitoring.audit.support import record, triggers_dropped

db = pytest.mark.django_db


def _old_event() -> None:
    event_append(
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


def _public_key(tmp_path: Path) -> Path:
    out, err = StringIO(), StringIO()
    call_command("audit_public_key", stdout=out, stderr=err)
    path = tmp_path / "audit-key.pem"
    path.write_text(out.getvalue())
    assert out.getvalue().startswith("-----BEGIN PUBLIC KEY-----")
    assert err.getvalue().startswith("key id ")
    return path


def _export(tmp_path: Path, *args: str) -> tuple[Path, list[dict[str, object]]]:
    output = tmp_path / "audit.jsonl"
    call_command("export_audit", *args, output=str(output), stderr=StringIO())
    return output, [json.loads(line) for line in output.read_text().splitlines()]


def _verify_export(path: Path, key: Path, *extra: str) -> str:
    out = StringIO()
    call_command(
        "verify_audit_chain", "--export", str(path), "--public-key", str(key), *extra, stdout=out
    )
    return out.getvalue().strip()


@db
def test_an_export_holds_whole_seals_ends_signed_and_verifies_on_its_own(tmp_path: Path) -> None:
    # given an old event sealed long ago and recent ones
    _old_event()
    seal_pending(sign=True)
    recent = record(3)

    path, lines = _export(tmp_path, "--since", "2025-06-01")

    # then the export seals what it covers first and holds that seal, signed, and its events
    assert [line["type"] for line in lines] == ["seal", "event", "event", "event"]
    assert lines[0]["number"] == 2 and lines[0]["signature"]
    assert [line["id"] for line in lines[1:]] == [e.pk for e in recent]
    # and verifies with nothing but the public key, starting after the seal it links to
    first_seal = AuditSeal.objects.get(number=1)
    assert lines[0]["prev_hash"] == first_seal.hash
    assert _verify_export(path, _public_key(tmp_path)) == (
        f"audit export audit.jsonl intact: 3 events in 1 seals, head 2:{lines[0]['hash']}; "
        "unsealed: 0 events"
    )


@db
def test_a_tampered_export_fails_to_verify(tmp_path: Path) -> None:
    record(3)
    path, lines = _export(tmp_path, "--since", "2000-01-01")
    lines[2]["object_id"] = "tok_forged"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    with pytest.raises(CommandError, match=f"event {lines[2]['id']}: modified"):
        _verify_export(path, _public_key(tmp_path))


@db
def test_an_export_checked_against_another_key_fails(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    record(1)
    path, _ = _export(tmp_path, "--since", "2000-01-01")
    other = tmp_path / "other.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    with pytest.raises(CommandError, match="not a trusted audit key"):
        _verify_export(path, other)


@db
def test_export_needs_a_public_key_and_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="needs --public-key"):
        call_command("verify_audit_chain", "--export", str(tmp_path / "x.jsonl"))
    with pytest.raises(CommandError, match="no such file"):
        _verify_export(tmp_path / "missing.jsonl", _public_key(tmp_path))
    with pytest.raises(CommandError, match="not a readable PEM"):
        call_command("verify_audit_chain", "--public-key", str(tmp_path / "none.pem"))


@db
def test_export_rejects_a_bad_date() -> None:
    with pytest.raises(CommandError, match="Not an ISO date"):
        call_command("export_audit", since="last tuesday")


@db
def test_verify_seals_on_demand_and_prints_the_signed_head() -> None:
    record(3)
    out = StringIO()

    call_command("verify_audit_chain", stdout=out)

    head = AuditSeal.objects.get()
    assert head.signature
    assert out.getvalue().strip() == (
        f"audit trail intact: 3 events in 1 seals, head 1:{head.hash}; unsealed: 0 events"
    )


@db
def test_verify_names_an_event_altered_by_raw_sql() -> None:
    events = record(5)
    seal_pending(sign=True)
    target = events[2]

    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE monitoring_auditevent SET outcome = 'failure' WHERE id = %s", [target.pk]
        )

    with pytest.raises(CommandError, match=f"event {target.pk}: modified"):
        call_command("verify_audit_chain", stdout=StringIO())


@db
def test_verify_names_an_event_deleted_by_raw_sql() -> None:
    events = record(4)
    seal_pending(sign=True)

    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM monitoring_auditevent WHERE id = %s", [events[1].pk])

    with pytest.raises(CommandError, match=f"event {events[1].pk}: deleted"):
        call_command("verify_audit_chain", stdout=StringIO())


@db
def test_an_anchor_catches_seals_cut_off_the_end_once_the_cache_forgot_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record(2)
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    record(2)
    call_command("verify_audit_chain", stdout=out)
    head = AuditSeal.objects.get(number=2)
    anchor = f"2:{head.hash}"

    # when the newest seal and its events are cut off and the sealer's memory is lost too
    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM monitoring_auditseal WHERE number = 2")
        cursor.execute("DELETE FROM monitoring_auditevent WHERE id > %s", [head.low_id])
    monkeypatch.setattr("monitoring.audit.sealer._remembered_head", lambda: None)

    # then the anchor recorded earlier still tells
    with pytest.raises(CommandError, match="seal 2: anchor: recorded earlier, now gone"):
        call_command("verify_audit_chain", "--anchor", anchor, stdout=StringIO())


@db
def test_verify_refuses_a_malformed_anchor_with_a_clear_error() -> None:
    record(1)
    for bad in ("12", "x:" + "0" * 64, "3:" + "0" * 63, "3:" + "g" * 64):
        with pytest.raises(CommandError, match="--anchor must be NUMBER:HASH"):
            call_command("verify_audit_chain", "--anchor", bad)
