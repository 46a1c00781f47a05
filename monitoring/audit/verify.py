"""Checking the audit trail: a pure function over exported data and trusted public keys.

The input is the export's lines in order (``export.py``): each seal followed by the events it
covers, then the events above the newest seal. Nothing here reads the database, so a JSON
Lines archive and the live trail are judged alike.

What is caught, and how:

- an event **modified**: its content no longer matches its digest, or (digest recomputed too)
  the digest no longer matches the one its seal lists;
- an event **deleted**: its seal lists an id that is not there;
- an event **inserted** into a sealed range: no seal lists its id;
- events **reordered** (content moved between ids) or lines out of order: digests listed for
  those ids differ, ids do not ascend;
- a seal altered or removed: its hash, the next seal's ``prev_hash`` or the numbering breaks;
- a **rewritten tail** (events and every later seal recomputed) or a chain **re-sealed with
  another key**: the attacker cannot sign with the audit key, so the newest signed seal fails
  to verify, names an untrusted key, or is missing (``require_signed_head``);
- the tail **cut off**: an anchor (a signed head logged earlier, ``NUMBER:HASH``) names a seal
  that is gone or differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitoring.audit.canonical import GENESIS, event_digest, seal_digest
from monitoring.audit.signing import signature_valid

MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    where: str  # "event 12", "seal 3", "line 7"
    kind: str  # modified, deleted, inserted, reordered, seal, signature, anchor, format
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.detail}"


@dataclass
class TrailReport:
    """What was checked. ``head`` is ``NUMBER:HASH`` of the newest seal: an anchor to keep."""

    events: int = 0
    seals: int = 0
    first_seal: int | None = None
    head_number: int = 0
    head_hash: str = GENESIS
    starts_after: str = ""  # prev_hash of the first seal when the export starts mid-chain
    signed_through: int | None = None
    signed_at: str = ""
    key_ids: set[str] = field(default_factory=set)
    unsealed: int = 0
    unsealed_first_id: int | None = None
    unsealed_oldest: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def head(self) -> str:
        return f"{self.head_number}:{self.head_hash}"


@dataclass
class _Seal:
    number: int
    low_id: int
    high_id: int
    hash: str
    listed: dict[int, str]
    seen: set[int] = field(default_factory=set)


def line_digest(line: Mapping[str, Any]) -> str:
    """The digest an exported event line should carry, recomputed from its content."""
    return event_digest(
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
    )


class _Checker:
    def __init__(
        self,
        public_keys: Mapping[str, str],
        anchors: Mapping[int, str],
        require_signed_head: bool,
    ) -> None:
        self.keys = dict(public_keys)
        self.anchors = dict(anchors)
        self.require_signed_head = require_signed_head
        self.report = TrailReport()
        self.seal: _Seal | None = None
        self.last_event_id = 0

    def problem(self, where: str, kind: str, detail: str) -> None:
        if len(self.report.problems) < MAX_PROBLEMS:
            self.report.problems.append(Problem(where, kind, detail))

    def close_seal(self) -> None:
        if self.seal is None:
            return
        for event_id in sorted(set(self.seal.listed) - self.seal.seen):
            self.problem(
                f"event {event_id}",
                "deleted",
                f"seal {self.seal.number} lists it, the trail does not hold it",
            )

    def on_seal(self, line: Mapping[str, Any]) -> None:
        report, previous = self.report, self.seal
        self.close_seal()
        number, where = int(line["number"]), f"seal {line['number']}"
        if report.unsealed:
            self.problem(where, "reordered", "a seal follows events above the previous seal")
        if previous is None:
            report.first_seal = number
            if number == 1 and line["prev_hash"] != GENESIS:
                self.problem(where, "seal", "the first seal does not start at genesis")
            elif number != 1:
                report.starts_after = str(line["prev_hash"])
        else:
            if number != previous.number + 1:
                self.problem(
                    where, "seal", f"follows seal {previous.number}: seals removed or reordered"
                )
            if line["prev_hash"] != previous.hash:
                self.problem(where, "seal", "prev_hash is not the previous seal's hash")
            if int(line["low_id"]) != previous.high_id:
                self.problem(where, "seal", "its range does not start where the previous ended")
        pairs = [(int(pair[0]), str(pair[1])) for pair in line["events"]]
        ids = [event_id for event_id, _ in pairs]
        low, high = int(line["low_id"]), int(line["high_id"])
        if ids != sorted(set(ids)) or any(not low < i <= high for i in ids) or high < low:
            self.problem(where, "seal", "its event list is out of order or outside its range")
        recomputed = seal_digest(
            number=number,
            low_id=low,
            high_id=high,
            events=pairs,
            prev_hash=str(line["prev_hash"]),
            sealed_at=str(line["sealed_at"]),
        )
        if recomputed != line["hash"]:
            self.problem(where, "seal", "content does not match its hash: the seal was altered")
        if line.get("signature"):
            key_id = str(line.get("key_id", ""))
            if key_id not in self.keys:
                self.problem(
                    where,
                    "signature",
                    f"signed by key {key_id[:16]}…, not a trusted audit key: re-sealed",
                )
            elif not signature_valid(self.keys[key_id], str(line["hash"]), line["signature"]):
                self.problem(where, "signature", "the signature does not verify over its hash")
            else:
                report.signed_through, report.signed_at = number, str(line["sealed_at"])
                report.key_ids.add(key_id)
        expected = self.anchors.pop(number, None)
        if expected is not None and expected != line["hash"]:
            self.problem(where, "anchor", "differs from the head recorded earlier: rewritten")
        self.seal = _Seal(number, low, high, str(line["hash"]), dict(pairs))
        report.seals += 1
        report.head_number, report.head_hash = number, str(line["hash"])

    def on_event(self, line: Mapping[str, Any]) -> None:
        report, seal = self.report, self.seal
        event_id = int(line["id"])
        where = f"event {event_id}"
        if event_id <= self.last_event_id:
            self.problem(where, "reordered", f"comes after event {self.last_event_id}")
        self.last_event_id = max(self.last_event_id, event_id)
        digest = line_digest(line)
        if digest != line["digest"]:
            self.problem(where, "modified", "content does not match its digest")
        if seal is not None and event_id <= seal.high_id:
            if event_id <= seal.low_id:
                self.problem(where, "reordered", f"lies before seal {seal.number}'s range")
            elif event_id not in seal.listed:
                self.problem(where, "inserted", f"seal {seal.number} does not list it")
            elif seal.listed[event_id] != digest:
                self.problem(
                    where,
                    "modified",
                    f"differs from the digest seal {seal.number} lists (altered or moved)",
                )
            seal.seen.add(event_id)
            report.events += 1
            return
        report.unsealed += 1
        if report.unsealed_first_id is None:
            report.unsealed_first_id = event_id
        if not report.unsealed_oldest or line["occurred_at"] < report.unsealed_oldest:
            report.unsealed_oldest = str(line["occurred_at"])

    def finish(self) -> TrailReport:
        report = self.report
        self.close_seal()
        for number in sorted(self.anchors):
            if number > report.head_number:
                self.problem(
                    f"seal {number}", "anchor", "recorded earlier, now gone: the tail was cut off"
                )
        if (
            self.require_signed_head
            and report.seals
            and report.signed_through != (report.head_number)
        ):
            since = f" after seal {report.signed_through}" if report.signed_through else ""
            self.problem(
                f"seal {report.head_number}",
                "signature",
                f"the head is not signed by a trusted audit key{since}: nothing vouches for it",
            )
        return report


def verify_trail(
    lines: Iterable[Mapping[str, Any]],
    *,
    public_keys: Mapping[str, str],
    anchors: Mapping[int, str] | None = None,
    require_signed_head: bool = True,
) -> TrailReport:
    """Check exported lines against trusted ``public_keys`` (key id → PEM, ``signing.py``).

    ``anchors`` (seal number → hash) are signed heads recorded outside the database (the
    ``audit_chain_head`` log lines). With ``require_signed_head`` the newest seal must carry a
    valid signature, so everything sealed is vouched for by the key; events above it are
    reported as the unsealed window, not judged.
    """
    checker = _Checker(public_keys, anchors or {}, require_signed_head)
    for number, line in enumerate(lines, start=1):
        try:
            kind = line.get("type")
            if kind == "seal":
                checker.on_seal(line)
            elif kind == "event":
                checker.on_event(line)
            else:
                checker.problem(f"line {number}", "format", "neither an event nor a seal")
        except (KeyError, TypeError, ValueError) as exc:
            checker.problem(f"line {number}", "format", f"malformed ({type(exc).__name__})")
    return checker.finish()
