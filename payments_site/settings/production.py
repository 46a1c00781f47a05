"""Production: fail fast on any missing secret, HTTPS and strict browser policy everywhere."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    AUDIT_SIGNING_BACKEND,
    KEY_BACKENDS,
    KEYS_BACKEND,
    LOG_FORMAT,
    PROCESSOR_LIVE,
    env,
)
from .environment import SettingError

# Every variable production cannot run without. Checked together so that one deploy attempt
# names them all instead of failing one at a time.
# - REDIS_URL: the card-testing counters, cool-offs and API throttles must be one store for
#   every worker and server: in process memory each worker would count alone (every threshold
#   multiplied by the number of processes) and evict counters under load, so an attack would
#   go unseen.
# - KEYS_BACKEND is named explicitly; on KMS every key id and the region must be set, so that a
#   deploy never silently runs on a default alias in the wrong account or region. The same
#   holds for the key that signs the audit trail's chain heads (AUDIT_KMS_KEY_ID) whenever the
#   trail signs on KMS (AUDIT_SIGNING_BACKEND, by default as KEYS_BACKEND).
_on_kms = env.str("KEYS_BACKEND", default="") == "aws"
_audit_on_kms = AUDIT_SIGNING_BACKEND == "aws"
REQUIRED = [
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "KEYS_BACKEND",
    *(
        ["KMS_SIGN_KEY_ID", "KMS_JWE_KEY_ID", "KMS_VAULT_KEY_ID", "KMS_FINGERPRINT_KEY_ID"]
        if _on_kms
        else []
    ),
    *(["AWS_REGION"] if _on_kms and not env.str("AWS_DEFAULT_REGION", default="").strip() else []),
    *(["AUDIT_KMS_KEY_ID"] if _audit_on_kms else []),
]
_missing = [name for name in REQUIRED if not env.str(name, default="").strip()]
if _missing:
    raise ImproperlyConfigured(
        "Missing required environment variables for production: " + ", ".join(_missing)
    )

DEBUG = False
# Production logs are JSON lines only, for the log pipeline to parse.
if LOG_FORMAT != "json":
    raise SettingError(f"LOG_FORMAT={LOG_FORMAT!r}: production logs JSON only; allowed: json")
SECRET_KEY = env.str("SECRET_KEY")
# Previous keys while rotating: sessions, signed links and admin recovery codes stay valid.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=[f"https://{host}" for host in ALLOWED_HOSTS]
)
PUBLIC_ORIGIN = env.str("PUBLIC_ORIGIN", default=f"https://{ALLOWED_HOSTS[0].lstrip('.')}")

SECURE_SSL_REDIRECT = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

# Behind a TLS-terminating proxy set e.g. "HTTP_X_FORWARDED_PROTO,https". Only do so when the
# proxy overwrites that header: otherwise a client could claim HTTPS over plain HTTP.
_proxy_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_header:
    if len(_proxy_header) != 2:
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must be 'HEADER_NAME,value'.")
    SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1])

# --- keys (vault) ----------------------------------------------------------------------------
# The local keyring keeps key material on the application's disk: refused unless asked for.
LOCAL_KEYS_ALLOWED = env.bool("LOCAL_KEYS_ALLOWED_IN_PRODUCTION", default=False)
if KEY_BACKENDS["local"] == KEYS_BACKEND and not LOCAL_KEYS_ALLOWED:
    raise ImproperlyConfigured(
        "KEYS_BACKEND=local keeps keys on disk and is refused in production: use "
        "KEYS_BACKEND=aws, or set LOCAL_KEYS_ALLOWED_IN_PRODUCTION=true on purpose."
    )

# A local audit key sits on the application's disk, where whoever rewrites the trail could
# re-sign it: refused by the same rule as the local keyring.
if AUDIT_SIGNING_BACKEND == "local" and not LOCAL_KEYS_ALLOWED:
    raise ImproperlyConfigured(
        "AUDIT_SIGNING_BACKEND=local keeps the audit signing key on disk and is refused in "
        "production: use aws with AUDIT_KMS_KEY_ID (manage.py kms_bootstrap creates it), "
        "or set LOCAL_KEYS_ALLOWED_IN_PRODUCTION=true on purpose."
    )

# --- Monitoring: the admin's second factor cannot be switched off here ----------------------
if not env.bool("ADMIN_MFA_REQUIRED", default=True):
    raise ImproperlyConfigured("ADMIN_MFA_REQUIRED cannot be false in production (PCI DSS 8.4).")
ADMIN_MFA_REQUIRED = True

# --- Webhooks: only https, only public addresses --------------------------------------------
if env.list("WEBHOOK_ADDRESS_ALLOWLIST", default=[]):
    raise ImproperlyConfigured(
        "WEBHOOK_ADDRESS_ALLOWLIST lets webhooks reach private addresses and is for tests only; "
        "unset it in production."
    )
if env.bool("WEBHOOK_ALLOW_HTTP", default=False):
    raise ImproperlyConfigured("WEBHOOK_ALLOW_HTTP cannot be true in production: use https.")
WEBHOOK_ADDRESS_ALLOWLIST = []
WEBHOOK_ALLOW_HTTP = False

# --- Processors: the sandbox serves test mode only -----------------------------------------
# (By name here, before the apps load; ``get_processor`` also refuses any sandbox subclass.)
if "sandbox" in PROCESSOR_LIVE.lower():
    raise ImproperlyConfigured(
        "PROCESSOR_LIVE cannot be the sandbox: it approves made-up cards and moves no money. "
        "Name a live processor, or leave it empty to keep live mode unavailable."
    )
if "adyen" in PROCESSOR_LIVE.lower() and "checkout-test.adyen.com" in env.str(
    "ADYEN_LIVE_ENDPOINT", default=""
):
    raise ImproperlyConfigured(
        "ADYEN_LIVE_ENDPOINT is Adyen's test endpoint: live mode needs your live prefix URL "
        "(https://<prefix>-checkout-live.adyenpayments.com/checkout/v71)."
    )
