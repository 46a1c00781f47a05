"""``manage.py verify_audit_chain [--anchor NUMBER:HASH …] [--export FILE --public-key PEM …]``

Without ``--export``: seal what is committed and sign the head (on demand, as beat does every
second), then check the whole trail in the database with the audit key's public key, and
report the unsealed window (events that open transactions kept from this seal). With
``--export``: check a file written by ``export_audit`` on its own, against the public keys
given (``manage.py audit_public_key`` prints the current one); nothing is read from the
database.

Exit status 0 when intact, 1 (CommandError) naming the first problems otherwise. The head
printed (``NUMBER:HASH``), like the ``audit_chain_head`` lines the sealer logs, is worth
recording outside the database: passed back as ``--anchor`` it proves that no seals were cut
off the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.audit.export import export_lines
from monitoring.audit.sealer import seal_pending
from monitoring.audit.signing import SigningUnavailable, head_signer, public_key_id
from monitoring.audit.verify import TrailReport, verify_trail
from payments_site.kernel.jsontext import json_parse

# An exported seal lists its events: far larger than any request body, still bounded.
EXPORT_LINE_MAX_BYTES = 64 * 1024 * 1024

_ANCHOR = re.compile(r"(?P<number>[0-9]{1,18}):(?P<hash>[0-9a-fA-F]{64})")


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                line = json_parse(raw, max_bytes=EXPORT_LINE_MAX_BYTES)
            except ValueError:
                line = None
            yield line if isinstance(line, dict) else {"type": "unreadable"}


class Command(BaseCommand):
    help = "Seal, then verify the audit trail (or an export of it); report the unsealed window."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="NUMBER:HASH",
            help="A signed head recorded earlier (this command's output, an audit_chain_head "
            "log line); repeatable.",
        )
        parser.add_argument("--export", metavar="FILE", help="check this export_audit file")
        parser.add_argument(
            "--public-key",
            action="append",
            default=[],
            metavar="PEM_FILE",
            help="a trusted audit public key (repeatable; required with --export)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        anchors: dict[int, str] = {}
        for value in options["anchor"]:
            match = _ANCHOR.fullmatch(value.strip())
            if match is None:
                raise CommandError(
                    f"--anchor must be NUMBER:HASH (64 hex digits), not {value[:80]!r}"
                )
            if int(match["number"]):  # 0 is the empty trail's head: nothing to check
                anchors[int(match["number"])] = match["hash"].lower()
        keys: dict[str, str] = {}
        for name in options["public_key"]:
            try:
                pem = Path(name).read_text(encoding="ascii")
                keys[public_key_id(pem)] = pem
            except (OSError, ValueError) as exc:
                raise CommandError(f"--public-key {name}: not a readable PEM public key") from exc
        if options["export"]:
            if not keys:
                raise CommandError("--export needs --public-key: the key the trail is signed by")
            path = Path(options["export"])
            if not path.is_file():
                raise CommandError(f"--export {path}: no such file")
            report = verify_trail(_json_lines(path), public_keys=keys, anchors=anchors)
            self._finish(report, what=f"audit export {path.name}")
            return
        outcome = seal_pending(sign=True)
        if outcome.refused:
            raise CommandError(f"audit chain rewritten: {outcome.refused}; the sealer stopped")
        try:
            signer = head_signer()
            keys[signer.key_id] = signer.public_pem
        except SigningUnavailable as exc:
            raise CommandError(f"the audit signing key cannot be used: {exc}") from exc
        lines = export_lines(since_id=1, until_id=None)
        report = verify_trail(lines, public_keys=keys, anchors=anchors)
        self._finish(report, what="audit trail")

    def _finish(self, report: TrailReport, *, what: str) -> None:
        if not report.ok:
            shown = "; ".join(str(problem) for problem in report.problems[:5])
            more = len(report.problems) - 5
            raise CommandError(
                f"{what} broken: {shown}" + (f" (and {more} more)" if more > 0 else "")
            )
        window = (
            f"unsealed: {report.unsealed} events from id {report.unsealed_first_id}, "
            f"oldest {report.unsealed_oldest}"
            if report.unsealed
            else "unsealed: 0 events"
        )
        self.stdout.write(
            f"{what} intact: {report.events} events in {report.seals} seals, "
            f"head {report.head}; {window}"
        )
