"""Schemathesis against a real gunicorn server: ≥ 1,000 generated requests from
``/api/schema/`` find no 5xx and no response that breaks the schema."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import TokenFactory
from tests.support.servers import gunicorn, server_env
from vault.merchants import api_key_create
from vault.models import Merchant

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "unsupported_method",
    ]
)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    merchant: Merchant, tls_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    secret = api_key_create(merchant=merchant).secret
    TokenFactory.create(
        merchant=merchant
    )  # so that listing and charging have something real to find

    with gunicorn(
        cert=tls_cert,
        workers=2,
        env={"API_THROTTLE_RATE": "100000/second"},
        log_path=tmp_path / "gunicorn.log",
    ) as server:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.url}/api/schema/",
                "--checks",
                CHECKS,
                "--max-examples",
                "120",
                "--phases",
                "examples,coverage,fuzzing",
                "--header",
                f"Authorization: Bearer {secret}",
                "--tls-verify",
                str(tls_cert[0]),
                "--seed",
                "20300131",
                "--request-timeout",
                "30",
                "--no-color",
            ],
            cwd=tmp_path,  # its cache and reports stay out of the work tree
            env=server_env(
                {"SCHEMATHESIS_HOOKS": "", "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path)}
            ),
            capture_output=True,
            text=True,
            timeout=1200,
        )

    output = result.stdout + result.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    assert result.returncode == 0, output[-6000:]
    generated = re.search(r"Test cases:\s+(\d+) generated", output)
    assert generated, output[-3000:]
    assert int(generated.group(1)) >= 1000, output[-3000:]
    log = (tmp_path / "gunicorn.log").read_text()
    # Statuses only: an access line is `"GET /path" <status> <bytes> …` (a 500-byte body is fine).
    assert not re.findall(r'" 5\d\d \d+ |"status_code": 5\d\d', log)
