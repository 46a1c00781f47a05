"""The README's shell blocks run as written, in order, in one shell, against a live server
(gunicorn with TLS, the demo merchant and key that ``make run`` creates). Blocks that start
the server or the suite themselves (``make …``) are the ones not run."""

from __future__ import annotations

import re
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.support.servers import ROOT, gunicorn, server_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def readme_blocks() -> list[str]:
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    return [block for block in blocks if not re.search(r"^make ", block, re.M)]


def test_readme_has_shell_blocks_to_run() -> None:
    assert len(readme_blocks()) >= 5


def test_readme_shell_blocks_run_as_written(tls_cert: tuple[Path, Path]) -> None:
    out = StringIO()
    call_command("bootstrap_demo", stdout=out)
    key = re.search(r"api_key=(\S+)", out.getvalue())
    assert key is not None
    # Every curl fails the script on an HTTP error, so a 4xx the README did not mean stops it.
    script = "\n".join(
        [
            "set -euo pipefail",
            'curl() { command curl --silent --show-error --fail-with-body "$@"; echo; }',
            *readme_blocks(),
        ]
    )

    with gunicorn(cert=tls_cert, workers=1) as server:
        port = server.url.rsplit(":", 1)[1]
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=ROOT,
            env=server_env({"TESSERA_KEY": key.group(1), "PORT": port}),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout
    assert re.search(r'"token": ?"tok_', output)  # the sealed card became a token
    assert re.search(r'"failure_code": ?"insufficient_funds"', output)  # the decline
    assert re.search(r'"object": ?"refund"', output)
    assert re.search(r'"cancel_at_period_end": ?true', output)
    assert "/checkout/cs_" in output
