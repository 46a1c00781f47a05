"""Test settings for a server whose requests die just after their effect commits.

``HANG_AFTER_COMMIT`` names models (``app_label.ModelName``, comma-separated); once a new row of one
is committed, the request sleeps ``HANG_AFTER_COMMIT_SECONDS`` — past gunicorn's
timeout, so the worker is killed exactly where a crash hurts most: the effect is in the
database, its answer never left. For the operations that call the processor the hanging
sandbox (``PROCESSOR_SANDBOX_LATENCY_MS``) does the same without this.
"""

from __future__ import annotations

import os

from payments_site.settings.test import *  # noqa: F403
from payments_site.settings.test import INSTALLED_APPS

HANG_AFTER_COMMIT = [m for m in os.environ.get("HANG_AFTER_COMMIT", "").split(",") if m]
HANG_AFTER_COMMIT_SECONDS = float(os.environ.get("HANG_AFTER_COMMIT_SECONDS", "60"))
INSTALLED_APPS = [*INSTALLED_APPS, "tests.support.hang.HangAfterCommitConfig"]
