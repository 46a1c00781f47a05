"""`make run`: one machine, SQLite, HTTPS on localhost with a self-signed certificate.

The secret key comes from `.env`, which `make run` writes once with a random value; it is
never a constant in code.
"""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import env, logging_config

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
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

# Logs for a person to read, one line per record (LOG_FORMAT=json for the production form).
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOGGING = logging_config(LOG_FORMAT)

# --- checkout sessions: `make run` demos may return to an http://localhost shop.
CHECKOUT_REDIRECT_HTTP_ALLOWED = env.bool("CHECKOUT_REDIRECT_HTTP_ALLOWED", default=True)
