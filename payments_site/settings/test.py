"""Settings for the test suite: PostgreSQL when ``DATABASE_URL`` is set (CI), else SQLite.

The SQLite test database lives in a file so that real servers started by the tests (gunicorn,
Celery workers) share it with the test process.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES, RUN_DIR, env

# Random per process tree: tests never depend on its value, and subprocess servers inherit it
# through the environment so that their signatures agree with the test process.
SECRET_KEY = os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

RUN_DIR.mkdir(exist_ok=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("TEST", {})
    DATABASES["default"]["TEST"]["NAME"] = env.str(
        "SQLITE_TEST_DB", default=str(RUN_DIR / "test-db.sqlite3")
    )

# Static files straight from the source folders: no collectstatic step before tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if CACHES["default"]["BACKEND"].endswith("RedisCache"):  # noqa: F405
    # A prefix per test run keeps counters of concurrent runs on one Redis apart, and one per
    # xdist worker those of one run's workers (a test resets its counters by prefix); servers
    # the tests start inherit it through the environment.
    _prefix = os.environ.setdefault("CACHE_KEY_PREFIX", f"tessera-test-{secrets.token_hex(4)}")
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if _worker and not _prefix.endswith(f"-{_worker}"):
        _prefix = os.environ["CACHE_KEY_PREFIX"] = f"{_prefix}-{_worker}"
    CACHES["default"]["KEY_PREFIX"] = _prefix  # noqa: F405

# --- keys (vault) -----------------------------------------------------------------------------
# One local keyring per checkout, shared with servers the tests start (inherited through the
# environment). Tests that rotate or break keys use their own file under tmp_path.
LOCAL_KEYRING_PATH = Path(
    os.environ.setdefault("LOCAL_KEYRING_PATH", str(RUN_DIR / "test-keyring.json"))
)

# One audit signing key per checkout, shared with the servers the tests start.
AUDIT_SIGNING_KEY_PATH = os.environ.setdefault(
    "AUDIT_SIGNING_KEY_PATH", str(RUN_DIR / "test-audit-signing-key.pem")
)

# Benches mount extra baseline views next to the application's (tests/bench/urls.py).
ROOT_URLCONF = env.str("ROOT_URLCONF", default="payments_site.urls")

# --- Celery: tasks run inline in tests; suites that start real workers switch this off for
# themselves (and the workers) explicitly.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)

DEVELOPMENT_COMMANDS = True

# --- checkout sessions: test merchants' success pages may be plain http.
CHECKOUT_REDIRECT_HTTP_ALLOWED = True

# --- webhooks: receivers the tests start on 127.0.0.1 (plain http or their own CA).
WEBHOOK_ADDRESS_ALLOWLIST = ["127.0.0.1"]
WEBHOOK_ALLOW_HTTP = True

# --- processors: live mode is served by the suite's stand-in (never the sandbox); tests of
# a deployment without one set PROCESSOR_LIVE="".
PROCESSOR_LIVE = env.str("PROCESSOR_LIVE", default="tests.support.processors.LiveTestProcessor")
