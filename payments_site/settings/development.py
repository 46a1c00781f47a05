"""`make run`: one machine, SQLite, HTTPS on localhost with a self-signed certificate.

The secret key is ``SECRET_KEY`` when set (`make run` writes a random one into a new `.env`);
left empty, as in `.env.example`, it is a random key made once and kept in `.run/`. It is
never a constant in code.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .base import *  # noqa: F403
from .base import RUN_DIR, env, logging_config
from .environment import SettingError


def development_secret_key(path: Path) -> str:
    """The key in ``path``, made (0600) on first use: the same for every worker and restart, so
    sessions and signed links outlive a restart. Exclusive create: two workers starting at once
    read the one key the first wrote."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
    else:
        key = secrets.token_urlsafe(50)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
    if len(key) < 50 or any(c.isspace() for c in key):
        raise SettingError(
            f"SECRET_KEY is empty and {path} holds no usable key; allowed: delete the file "
            "(a new key is made) or set SECRET_KEY to 50 or more random characters"
        )
    return key


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or development_secret_key(RUN_DIR / "secret_key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# The port `make run` serves (its PORT): links the commands print and CSRF origins follow it.
PORT = env.int("PORT", default=8443)
PUBLIC_ORIGIN = env.str("PUBLIC_ORIGIN", default=f"https://localhost:{PORT}")
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS",
    default=sorted({PUBLIC_ORIGIN, f"https://localhost:{PORT}", f"https://127.0.0.1:{PORT}"}),
)

# `make run` serves TLS itself, so the production cookie and HSTS rules apply here too, except
# preload/subdomains, which would pin "localhost" in the developer's browser.
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 0

DEMO_CHECKOUT_ENABLED = True
# Webhooks may go to a receiver on this machine (production refuses both).
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=True)
WEBHOOK_ADDRESS_ALLOWLIST = env.list("WEBHOOK_ADDRESS_ALLOWLIST", default=["127.0.0.1"])
DEVELOPMENT_COMMANDS = True

# Logs for a person to read, one line per record (LOG_FORMAT=json for the production form).
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOGGING = logging_config(LOG_FORMAT)

# --- checkout sessions: `make run` demos may return to an http://localhost shop.
CHECKOUT_REDIRECT_HTTP_ALLOWED = env.bool("CHECKOUT_REDIRECT_HTTP_ALLOWED", default=True)
