"""The one ``environ.Env`` every settings module reads, and the project's paths.

``.env`` (written by ``make run``) fills in what the real environment leaves unset;
``ENV_FILE`` points elsewhere, or at /dev/null to read nothing."""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
RUN_DIR = BASE_DIR / ".run"

env = environ.Env()
ENV_FILE = Path(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)
