"""``cp .env.example .env && make run`` serves on a fresh clone, as the README says.

The real ``make run`` (migrate, collectstatic, the demo merchant, the certificate, gunicorn)
runs in a copy of the tracked files with the project's virtualenv linked in (its install
step is taken as done: ``make -o``), from a newcomer's environment: no settings module, no
secret, nothing but the copied ``.env``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.clone import fresh_clone, newcomer_env
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


def _get(url: str, cafile: Path) -> int:
    context = ssl.create_default_context(cafile=str(cafile))
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_cp_env_example_then_make_run_serves(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    clone = fresh_clone(tmp_path)
    shutil.copyfile(clone / ".env.example", clone / ".env")
    port = free_port()
    log = tmp_path / "make-run.log"
    started = time.monotonic()
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "-o", ".venv/.installed-run", "run"],
            cwd=clone,
            env=newcomer_env(PORT=str(port)),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        status, elapsed = 0, 0.0
        while time.monotonic() - started < 120 and make.poll() is None:
            try:
                status = _get(f"https://localhost:{port}/healthz", clone / ".run/tls/localhost.crt")
            except (OSError, ssl.SSLError):
                status = 0
            if status == 200:
                elapsed = time.monotonic() - started
                break
            time.sleep(0.25)
        home = _get(f"https://localhost:{port}/", clone / ".run/tls/localhost.crt")
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=30)
    output = log.read_text()

    assert status == 200, output[-3000:]
    assert home == 200
    assert f"Serving https://localhost:{port}/" in output
    assert re.search(r"api_key=sk_test_\S+", output)  # bootstrap_demo printed the demo key
    assert "ImproperlyConfigured" not in output and "Traceback" not in output
    record_property("seconds_to_first_healthz_200", round(elapsed, 1))  # in the JUnit report
