"""gunicorn's lines and Django's share one formatter: JSON only where JSON is asked for
(production's form), plain lines for a person under ``make run``; every line about a request
carries its id, 4xx warnings and access lines included."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.servers import gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _serve_and_log(tmp_path: Path, log_format: str) -> tuple[list[str], dict[str, str]]:
    log_path = tmp_path / "gunicorn.log"
    with gunicorn(cert=None, workers=1, env={"LOG_FORMAT": log_format}, log_path=log_path) as s:
        ids = {path: s.get(path)[1]["X-Request-ID"] for path in ("/nope", "/healthz")}
    return log_path.read_text().splitlines(), ids


def test_json_lines_only_each_request_line_with_its_id(tmp_path: Path) -> None:
    lines, ids = _serve_and_log(tmp_path, "json")

    records = [json.loads(line) for line in lines]  # every line is JSON, gunicorn's too
    access = {r["path"]: r for r in records if r["logger"] == "gunicorn.access"}
    warning = next(r for r in records if r["logger"] == "django.request")
    assert access["/nope"]["status"] == 404
    assert access["/nope"]["request_id"] == ids["/nope"]
    assert access["/healthz"]["request_id"] == ids["/healthz"]
    assert warning["level"] == "warning"
    assert warning["request_id"] == ids["/nope"]
    assert any(r["logger"] == "gunicorn.error" for r in records)


def test_console_lines_for_a_person(tmp_path: Path) -> None:
    lines, ids = _serve_and_log(tmp_path, "console")

    assert not [line for line in lines if line.lstrip().startswith("{")]
    stamp = r"^\d{4}-\d\d-\d\dT[\d:.]+Z \[(info|warning) *\] "
    access = [line for line in lines if "[gunicorn.access]" in line]
    assert any(
        re.match(stamp + r"GET /nope +404 .*request_id=" + ids["/nope"], line) for line in access
    ), lines
    warnings = [line for line in lines if "[django.request]" in line]
    assert len(warnings) == 1, lines
    assert re.match(stamp + "Not Found: /nope", warnings[0]), lines
    assert f"request_id={ids['/nope']}" in warnings[0]
