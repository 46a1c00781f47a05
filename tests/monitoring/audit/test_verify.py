"""Every attack on the sealed trail is caught by the verifier, from the exported data and the
public key alone. The attacks are generated from one registry (``ATTACKS``)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from django.db import connection

from monitoring.audit.canonical import seal_digest
from monitoring.audit.export import export_lines
from monitoring.audit.sealer import seal_pending
from monitoring.audit.signing import head_signer, public_key_id
from monitoring.audit.verify import line_digest, verify_trail
from tests.monitoring.audit.support import record, triggers_dropped

Lines = list[dict[str, Any]]

ATTACKER_KEY = ec.generate_private_key(ec.SECP256R1())
ATTACKER_PEM = (
    ATTACKER_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def _events(lines: Lines) -> list[dict[str, Any]]:
    return [line for line in lines if line["type"] == "event"]


def _seal(lines: Lines, number: int) -> dict[str, Any]:
    return next(line for line in lines if line["type"] == "seal" and line["number"] == number)


def _covered_by(lines: Lines, number: int) -> list[dict[str, Any]]:
    seal = _seal(lines, number)
    return [e for e in _events(lines) if seal["low_id"] < e["id"] <= seal["high_id"]]


def _rehash(event: dict[str, Any]) -> None:
    event["digest"] = line_digest(event)


def _reseal_from(lines: Lines, number: int, *, signatures: str) -> None:
    """Recompute seal ``number`` and every later one from the events as they now stand, as an
    attacker who rewrote the tail would. ``signatures``: keep, strip or forge (own key)."""
    prev_hash = None
    for seal in [line for line in lines if line["type"] == "seal"]:
        if seal["number"] < number:
            prev_hash = seal["hash"]
            continue
        covered = [e for e in _events(lines) if seal["low_id"] < e["id"] <= seal["high_id"]]
        seal["events"] = [[e["id"], e["digest"]] for e in covered]
        seal["prev_hash"] = prev_hash or seal["prev_hash"]
        seal["hash"] = seal_digest(
            number=seal["number"],
            low_id=seal["low_id"],
            high_id=seal["high_id"],
            events=seal["events"],
            prev_hash=seal["prev_hash"],
            sealed_at=seal["sealed_at"],
        )
        if signatures == "strip":
            seal["key_id"] = seal["signature"] = ""
        elif signatures == "forge":
            signature = ATTACKER_KEY.sign(
                bytes.fromhex(seal["hash"]), ec.ECDSA(Prehashed(hashes.SHA256()))
            )
            seal["key_id"] = public_key_id(ATTACKER_PEM)
            seal["signature"] = base64.b64encode(signature).decode()
        prev_hash = seal["hash"]


# --- the attacks ------------------------------------------------------------------------------


def modify_event(lines: Lines) -> None:
    _covered_by(lines, 2)[0]["object_id"] = "tok_forged"


def modify_event_and_its_digest(lines: Lines) -> None:
    event = _covered_by(lines, 2)[0]
    event["outcome"] = "failure"
    _rehash(event)


def delete_event(lines: Lines) -> None:
    lines.remove(_covered_by(lines, 1)[1])


def delete_event_and_reseal(lines: Lines) -> None:
    lines.remove(_covered_by(lines, 1)[1])
    _reseal_from(lines, 1, signatures="keep")


def insert_event(lines: Lines, *, reseal: bool = False) -> None:
    # into the id a rolled-back transaction left unused inside seal 2's range
    covered = _covered_by(lines, 2)
    forged = {**covered[0], "id": covered[0]["id"] + 1, "object_id": "tok_inserted"}
    assert forged["id"] != covered[1]["id"]  # the gap is real
    _rehash(forged)
    lines.insert(lines.index(covered[0]) + 1, forged)
    if reseal:
        _reseal_from(lines, 2, signatures="keep")


def swap_event_contents(lines: Lines) -> None:
    first, second = _covered_by(lines, 1)[:2]
    for key in ("object_id", "digest", "occurred_at"):
        first[key], second[key] = second[key], first[key]


def swap_event_lines(lines: Lines) -> None:
    first, second = _covered_by(lines, 3)[:2]
    i, j = lines.index(first), lines.index(second)
    lines[i], lines[j] = second, first


def truncate_tail(lines: Lines) -> None:
    # the newest (signed) seal and everything after it
    del lines[lines.index(_seal(lines, 3)) :]


def truncate_to_an_unsigned_seal(lines: Lines) -> None:
    del lines[lines.index(_seal(lines, 3)) :]
    _seal(lines, 2)["signature"] = ""


def rewrite_tail_keeping_signatures(lines: Lines) -> None:
    modify_event_and_its_digest(lines)
    _reseal_from(lines, 2, signatures="keep")


def rewrite_tail_stripping_signatures(lines: Lines) -> None:
    modify_event_and_its_digest(lines)
    _reseal_from(lines, 2, signatures="strip")


def reseal_with_another_key(lines: Lines) -> None:
    modify_event_and_its_digest(lines)
    _reseal_from(lines, 1, signatures="forge")


def alter_a_seal(lines: Lines) -> None:
    _seal(lines, 2)["sealed_at"] = "2020-01-01T00:00:00.000000+00:00"


def remove_a_seal(lines: Lines) -> None:
    lines.remove(_seal(lines, 2))


def sign_with_the_head_key_id_but_another_key(lines: Lines) -> None:
    head = _seal(lines, 3)
    signature = ATTACKER_KEY.sign(bytes.fromhex(head["hash"]), ec.ECDSA(Prehashed(hashes.SHA256())))
    head["signature"] = base64.b64encode(signature).decode()


@dataclass(frozen=True)
class Attack:
    covers: str  # the class of attack it belongs to
    mutate: Callable[[Lines], None]
    caught_as: str  # the Problem.kind the verifier must report
    with_anchor: bool = False  # needs the signed head recorded earlier


ATTACKS = {
    "modify an event": Attack("modify", modify_event, "modified"),
    "modify an event and recompute its digest": Attack(
        "modify", modify_event_and_its_digest, "modified"
    ),
    "delete an event": Attack("delete", delete_event, "deleted"),
    "delete an event and reseal the tail": Attack("delete", delete_event_and_reseal, "signature"),
    "insert an event into a sealed range": Attack("insert", insert_event, "inserted"),
    "insert an event and reseal the tail": Attack(
        "insert", lambda lines: insert_event(lines, reseal=True), "signature"
    ),
    "reorder events (swap their contents)": Attack("reorder", swap_event_contents, "modified"),
    "reorder event lines": Attack("reorder", swap_event_lines, "reordered"),
    "truncate the tail": Attack("truncate", truncate_tail, "anchor", with_anchor=True),
    "truncate the tail to an unsigned seal": Attack(
        "truncate", truncate_to_an_unsigned_seal, "signature"
    ),
    "rewrite the tail keeping the signatures": Attack(
        "rewrite tail", rewrite_tail_keeping_signatures, "signature"
    ),
    "rewrite the tail and strip the signatures": Attack(
        "rewrite tail", rewrite_tail_stripping_signatures, "signature"
    ),
    "re-seal with another key": Attack("another key", reseal_with_another_key, "signature"),
    "sign the head with another key under the real key id": Attack(
        "another key", sign_with_the_head_key_id_but_another_key, "signature"
    ),
    "alter a seal": Attack("seal", alter_a_seal, "seal"),
    "remove a seal": Attack("seal", remove_a_seal, "seal"),
}


@pytest.fixture
def trail(db: None) -> Lines:
    """Three seals (1 and 3 signed, 2 not; 2 has an id left unused by a rolled-back
    transaction) and two events not sealed yet, exported."""
    record(3, prefix="one")
    assert seal_pending(sign=True).signed
    burned = record(3, prefix="two")[1]
    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM monitoring_auditevent WHERE id = %s", [burned.pk])
    assert not seal_pending(sign=False).signed
    record(3, prefix="three")
    assert seal_pending(sign=True).signed
    record(2, prefix="unsealed")
    return list(export_lines(since_id=1, until_id=None))


def _keys() -> dict[str, str]:
    signer = head_signer()
    return {signer.key_id: signer.public_pem}


def test_the_registry_covers_every_attack_on_the_chain() -> None:
    assert {attack.covers for attack in ATTACKS.values()} >= {
        "modify",
        "delete",
        "insert",
        "reorder",
        "truncate",
        "rewrite tail",
        "another key",
    }


def test_the_untouched_trail_verifies_with_only_the_public_key(trail: Lines) -> None:
    head = _seal(trail, 3)
    report = verify_trail(trail, public_keys=_keys(), anchors={3: head["hash"]})

    assert report.ok, report.problems
    assert (report.events, report.seals, report.signed_through) == (8, 3, 3)
    assert report.head == f"3:{head['hash']}"
    assert report.unsealed == 2 and report.unsealed_first_id == _events(trail)[-2]["id"]


@pytest.mark.parametrize("name", list(ATTACKS))
def test_each_attack_is_caught(trail: Lines, name: str) -> None:
    attack = ATTACKS[name]
    anchors = {3: _seal(trail, 3)["hash"]} if attack.with_anchor else {}
    tampered = copy.deepcopy(trail)

    attack.mutate(tampered)

    assert tampered != trail
    report = verify_trail(tampered, public_keys=_keys(), anchors=anchors)
    assert not report.ok
    assert attack.caught_as in {problem.kind for problem in report.problems}, report.problems


def test_a_verifier_that_trusts_only_another_key_rejects_the_genuine_trail(
    trail: Lines,
) -> None:
    report = verify_trail(trail, public_keys={public_key_id(ATTACKER_PEM): ATTACKER_PEM})

    assert {problem.kind for problem in report.problems} == {"signature"}


def test_malformed_lines_are_reported_not_raised(trail: Lines) -> None:
    broken = [*trail[:2], {"type": "event", "id": "x"}, {"type": "other"}, *trail[2:]]

    report = verify_trail(broken, public_keys=_keys())

    assert [p.where for p in report.problems if p.kind == "format"] == ["line 3", "line 4"]
