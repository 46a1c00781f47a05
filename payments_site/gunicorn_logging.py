"""gunicorn's access log through the same card-number redaction as every other log line.

The access log is written by gunicorn, outside Django's logging, so without this a card number
put in a URL path (a merchant's mistake, ``GET /api/v1/tokens/4242…``, or a probe) would reach
it verbatim. The format logs the path only (``%(U)s``), never the query string; the atoms
that could carry a URL are masked anyway, should the format change.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from monitoring.observability.redaction import redact_text

_URL_ATOMS = ("U", "r", "q", "f")  # path, request line, query string, referer


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name in _URL_ATOMS:
            if isinstance(atoms.get(name), str):
                atoms[name] = redact_text(atoms[name])
        return atoms
