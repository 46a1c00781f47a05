"""A fresh clone of this checkout in a temporary directory: the files git tracks (without the
test suite and docs, which a start does not read) and a link to the project's virtualenv, so
that what a newcomer runs (``cp .env.example .env``, ``manage.py``, ``make run``) runs there
and writes its ``.env``, ``.run/`` and database there, never into the working tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.servers import ROOT

_LEFT_OUT = ("tests/", "docs/")


def fresh_clone(target: Path) -> Path:
    """Copy the tracked files (as they are in the working tree) into ``target``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if name.startswith(_LEFT_OUT) or not (ROOT / name).is_file():
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    (target / ".venv").symlink_to((ROOT / ".venv").resolve())
    return target


def newcomer_env(**extra: str) -> dict[str, str]:
    """A shell's environment with nothing of the test session in it (no settings module, no
    ENV_FILE, no DATABASE_URL): only what a new user's terminal has."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, **extra}
