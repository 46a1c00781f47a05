"""Monitoring: the admin's login lockout and second factor, API-key lockout, card-testing
rules, readiness, logs, metrics and Sentry."""

from __future__ import annotations

from typing import Any

from .environment import BASE_DIR, env

# --- django-axes: admin login lockout (PCI DSS 8.3.4) -------------------------------------------
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)
AXES_LOCKOUT_PARAMETERS = ["username", ["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_SENSITIVE_PARAMETERS = ["password"]
# Client address for axes, the API-key lockout, anomaly rules and logs alike: the socket
# address, or with N trusted proxies the Nth X-Forwarded-For entry from the right; anything a
# client writes further left is ignored (monitoring/clientip.py).
TRUSTED_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "monitoring.observability.clientip.client_ip"

# --- Admin second factor (PCI DSS 8.4.2): TOTP or a recovery code on every staff login ------
# Production refuses to turn it off.
ADMIN_MFA_REQUIRED = env.bool("ADMIN_MFA_REQUIRED", default=True)
MFA_ENROLMENT_MAX_AGE = 72 * 3600
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Tessera")
# The admin never shows an existing device's TOTP key or recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Failed API-key attempts per source address: the same limits as the admin login (axes).
API_KEY_LOCKOUT = {
    "failure_limit": AXES_FAILURE_LIMIT,
    "window_seconds": round(AXES_COOLOFF_TIME * 3600),
    "cooloff_seconds": round(AXES_COOLOFF_TIME * 3600),
}
# Prometheus at /metrics, only with this bearer token (unset: 404). Multi-process under
# gunicorn when PROMETHEUS_MULTIPROC_DIR names an empty writable directory.
METRICS_BEARER_TOKEN: str = env.str("METRICS_BEARER_TOKEN", default="")
# Sentry: on when SENTRY_DSN is set; sends no PII and scrubs card data (monitoring/telemetry).
SENTRY_DSN: str = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT: str = env.str("SENTRY_ENVIRONMENT", default="production")
SENTRY_RELEASE: str = env.str("SENTRY_RELEASE", default="")
SENTRY_TRACES_SAMPLE_RATE: float = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
# Thresholds of the unusual-pattern rules; partial overrides merge over
# monitoring.security.rules.DEFAULT_RULES, e.g. {"jwt.rejections.ip": {"threshold": 50}}.
ANOMALY_RULES: dict[str, dict[str, object] | None] = {}
# Payment-page script inventory (PCI DSS 6.4.3/11.6.1) for `manage.py check_payment_page`;
# the checkout app fills it when its hosted page exists.
PAYMENT_PAGE_INVENTORY = env.str(
    "PAYMENT_PAGE_INVENTORY", default=str(BASE_DIR / "checkout" / "payment_page_inventory.json")
)

# --- Health -----------------------------------------------------------------------------------
# Dotted paths of callables returning None or raising; `/readyz` runs each (monitoring names
# the vault's key check only here, never in an import).
READINESS_CHECKS: list[str] = [
    "monitoring.observability.health.check_database",
    "monitoring.observability.health.check_counters",
    "vault.health.check_keys",
]

# --- Logging: structured, every record redacted; JSON lines, or "console" lines for a person
# (development's default; production refuses it). gunicorn's own lines use the same formatter.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT: str = env.str("LOG_FORMAT", default="json")


def logging_config(log_format: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "monitoring.observability.logs.json_formatter"},
            "console": {"()": "monitoring.observability.logs.console_formatter"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format},
        },
        "root": {"handlers": ["console"], "level": LOG_LEVEL},
        "loggers": {
            "django.server": {"level": "WARNING"},
            "axes.apps": {"level": "WARNING"},
        },
    }


LOGGING = logging_config(LOG_FORMAT)
