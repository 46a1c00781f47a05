"""gunicorn's own lines (errors and the access log) through the same formatter and card-number
redaction as every other log line: JSON in production, plain lines under ``make run``
(``LOG_FORMAT``, settled by ``gunicorn_conf``), each access line with its request id.

The access log is written by gunicorn, outside Django's logging, so without this a card number
put in a URL path (a merchant's mistake, ``GET /api/v1/tokens/4242…``, or a probe) would reach
it verbatim. The line carries the path only (``%(U)s``), never the query string; the atoms
that could carry a URL are masked anyway.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger

from monitoring.observability.logs import FORMATTERS
from monitoring.observability.redaction import redact_text

_URL_ATOMS = ("U", "r", "q", "f")  # path, request line, query string, referer


class RedactingLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = FORMATTERS[os.environ.get("LOG_FORMAT", "json")]()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name in _URL_ATOMS:
            if isinstance(atoms.get(name), str):
                atoms[name] = redact_text(atoms[name])
        return atoms

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """One record per request: ``GET /path 200`` with its fields, request id included."""
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        status = str(atoms.get("s", "-"))
        self.access_log.info(
            "%s %s %s",
            atoms.get("m", "-"),
            atoms.get("U", "-"),
            status,
            extra={
                "method": atoms.get("m", "-"),
                "path": atoms.get("U", "-"),
                "status": int(status) if status.isdigit() else status,
                "bytes": atoms.get("B"),
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                "client": atoms.get("h", "-"),
                "request_id": atoms.get("{x-request-id}o", "-"),
            },
        )
