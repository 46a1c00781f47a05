"""Settings shared by every environment.

One ``environ.Env`` reads the process environment (and ``.env`` when present). Nothing secret
has a default here: ``development`` and ``test`` supply throwaway values, ``production``
refuses to start without real ones.
"""

from __future__ import annotations

from pathlib import Path

import django_stubs_ext
import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

# Lets generic annotations like ``admin.ModelAdmin[Token]`` work at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
RUN_DIR = BASE_DIR / ".run"

env = environ.Env()
# `.env` (written by `make run`) fills in what the real environment leaves unset. ENV_FILE
# points elsewhere, or at /dev/null to read nothing.
ENV_FILE = Path(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = False
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # django.contrib.admin with the two-factor admin site (monitoring/admin_site.py).
    "monitoring.apps.TesseraAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "monitoring",
    "vault",
    "checkout",
]

MIDDLEWARE = [
    "monitoring.observability.middleware.RequestIdMiddleware",
    "monitoring.observability.middleware.MetricsMiddleware",
    "payments_site.middleware.RejectNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "payments_site.middleware.DependencyUnavailableMiddleware",
    # axes last: it inspects the outcome of authentication for the admin login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "payments_site.urls"
WSGI_APPLICATION = "payments_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Persistent connections are mandatory for throughput (ARCHITECTURE.md §8): a fresh PostgreSQL
# connection per request costs ~6 ms.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed during a write; IMMEDIATE takes the write lock up front so two
    # writers queue on the busy timeout instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: Redis when configured (shared counters across app servers), else process-local --
REDIS_URL: str = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="tessera"),
            # A stalled Redis fails a request in about a second instead of holding a worker
            # until gunicorn's timeout; /readyz then reports it.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    # Development and tests only (production requires REDIS_URL). Sized so that the counters
    # are never culled: LocMem's default of 300 entries would drop them mid-run.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# --- Auth -------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Admin sessions end after 15 idle minutes (PCI DSS 8.2.8): the cookie's age is renewed on
# every request, so it expires only when the user goes quiet.
SESSION_COOKIE_AGE = 15 * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"

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

# --- Browser security -------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = RUN_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["vault.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "payments_site.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_VERSIONING_CLASS": None,
}
PROBLEM_TYPE_BASE = "https://docs.tessera.dev/problems/"

# --- Keys (vault/keys/): "aws" (KMS) or "local" (keyring file, development only) ----------
KEY_BACKENDS = {
    "local": "vault.keys.local.LocalKeyService",
    "aws": "vault.keys.aws.AwsKmsKeyService",
}
KEYS_BACKEND_NAME = env.str("KEYS_BACKEND", default="local")
if KEYS_BACKEND_NAME not in KEY_BACKENDS:
    raise ImproperlyConfigured(f"KEYS_BACKEND must be one of: {', '.join(KEY_BACKENDS)}")
KEYS_BACKEND = KEY_BACKENDS[KEYS_BACKEND_NAME]
# local: a 0600 keyring file made on first use (refused by production settings).
LOCAL_KEYRING_PATH = Path(env.str("LOCAL_KEYRING_PATH", default=str(RUN_DIR / "keyring.json")))
LOCAL_KEYS_RSA_BITS = env.int("LOCAL_KEYS_RSA_BITS", default=3072)
LOCAL_KEYS_ALLOWED = True
# aws: key ids, ARNs or aliases (`manage.py kms_bootstrap` creates them and prints these).
KMS_REGION = env.str("AWS_REGION", default=env.str("AWS_DEFAULT_REGION", default="us-east-1"))
AWS_ENDPOINT_URL = env.str("AWS_ENDPOINT_URL", default="")  # moto_server or LocalStack
KMS_SIGN_KEY_ID = env.str("KMS_SIGN_KEY_ID", default="alias/tessera-sign")
KMS_JWE_KEY_ID = env.str("KMS_JWE_KEY_ID", default="alias/tessera-jwe")
KMS_VAULT_KEY_ID = env.str("KMS_VAULT_KEY_ID", default="alias/tessera-vault")
KMS_FINGERPRINT_KEY_ID = env.str("KMS_FINGERPRINT_KEY_ID", default="alias/tessera-fingerprint")
# Keys replaced by a new one but still listed in the JWKS until what they made has expired.
KMS_SIGN_PREVIOUS_KEY_IDS: list[str] = env.list("KMS_SIGN_PREVIOUS_KEY_IDS", default=[])
KMS_JWE_PREVIOUS_KEY_IDS: list[str] = env.list("KMS_JWE_PREVIOUS_KEY_IDS", default=[])
KMS_JWE_KEY_SPEC = env.str("KMS_JWE_KEY_SPEC", default="RSA_3072")
KMS_CONNECT_TIMEOUT = env.float("KMS_CONNECT_TIMEOUT", default=2.0)
KMS_READ_TIMEOUT = env.float("KMS_READ_TIMEOUT", default=5.0)
KMS_MAX_ATTEMPTS = env.int("KMS_MAX_ATTEMPTS", default=3)
KMS_PUBLIC_KEY_CACHE_SECONDS = env.float("KMS_PUBLIC_KEY_CACHE_SECONDS", default=300.0)
# Envelope encryption: one data key seals cards for at most this long / this many cards.
DATA_KEY_MAX_AGE_SECONDS = env.float("DATA_KEY_MAX_AGE_SECONDS", default=300.0)
DATA_KEY_MAX_USES = env.int("DATA_KEY_MAX_USES", default=10_000)

# --- Card transport: the checkout seals card JWTs, the vault ingests them ----------------------
# `iss` names this checkout, `aud` the vault (its DNS name in production); both are compared
# exactly. Lifetime is capped at 300 s and leeway at 30 s by the code, whatever is set here.
CARD_JWT_ISSUER = env.str("CARD_JWT_ISSUER", default="tessera-checkout")
CARD_JWT_AUDIENCE = env.str("CARD_JWT_AUDIENCE", default="vault.tessera.localhost")
CARD_JWT_LIFETIME_SECONDS = env.int("CARD_JWT_LIFETIME_SECONDS", default=120)
CARD_JWT_LEEWAY_SECONDS = env.int("CARD_JWT_LEEWAY_SECONDS", default=30)

# --- Health -----------------------------------------------------------------------------------
# Dotted paths of callables returning None or raising; `/readyz` runs each. Later apps append
# their own (the vault adds KMS reachability) without monitoring importing them.
READINESS_CHECKS: list[str] = [
    "monitoring.observability.health.check_database",
    "monitoring.observability.health.check_counters",
]
READINESS_CHECKS += ["vault.health.check_keys"]

# --- Logging: structured JSON, every record redacted -----------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "monitoring.observability.logs.json_formatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},
    },
}

# --- Checkout: charges, subscriptions, billing (issue 5) -------------------------------------
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["checkout.api.throttling.ApiKeyRateThrottle"]
# Per API key, counted on the shared cache (Redis when REDIS_URL is set): "N/second|minute|hour".
API_THROTTLE_RATE: str = env.str("API_THROTTLE_RATE", default="100/second")
SPECTACULAR_SETTINGS = {
    "TITLE": "Tessera API",
    "DESCRIPTION": (
        "Charge stored card tokens now or on a schedule. Authenticate with "
        "`Authorization: Bearer sk_test_…`. Every POST accepts an `Idempotency-Key` header. "
        "Errors are RFC 9457 `application/problem+json`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Docs assets come from drf-spectacular-sidecar's static files: no CDN, CSP 'self' suffices.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "checkout.api.schema.add_problem_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PaymentStatusEnum": "checkout.payments.models.Charge.Status",
        "SubscriptionStatusEnum": "checkout.billing.models.Subscription.Status",
    },
}

# Payment processor adapter (checkout/processors/): resolved once per process.
PROCESSOR_BACKEND: str = env.str(
    "PROCESSOR_BACKEND", default="checkout.payments.processors.sandbox.SandboxProcessor"
)
PROCESSOR_OPTIONS: dict[str, object] = {
    # Simulated network latency of the sandbox, milliseconds.
    "latency_ms": env.int("PROCESSOR_SANDBOX_LATENCY_MS", default=0),
    # Injected fault: "", "timeout_before", "timeout_after" (charged, answer lost),
    # "connection_error".
    "fault": env.str("PROCESSOR_SANDBOX_FAULT", default=""),
}
# Public test cards for `manage.py sandbox_token` (numbers never leave tests/).
SANDBOX_TEST_CARDS = BASE_DIR / "tests" / "data" / "cards.json"
# Pending charges older than this are settled by the reconcile job (must exceed the processor
# request timeout, so no original request can still be in flight).
CHARGE_RECONCILE_AFTER_SECONDS: int = env.int("CHARGE_RECONCILE_AFTER_SECONDS", default=300)
CHARGE_MAX_AMOUNT: int = 99_999_999
# Idempotency keys are kept at least this long, then purged by `purge_idempotency_keys`.
IDEMPOTENCY_KEY_TTL_HOURS: int = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# A request holding a key longer than this is presumed dead (> gunicorn's timeout).
IDEMPOTENCY_LOCK_SECONDS: int = env.int("IDEMPOTENCY_LOCK_SECONDS", default=90)
# Failed renewal retries, in days after the period's first failed attempt; then canceled.
SUBSCRIPTION_DUNNING_DAYS: list[int] = [int(d) for d in env.list("DUNNING_DAYS", default=[1, 3, 5])]
# Injectable clock (dotted path to a zero-argument callable returning an aware datetime).
CHECKOUT_CLOCK: str = env.str("CHECKOUT_CLOCK", default="django.utils.timezone.now")

# Celery (payments_site/celery.py): Redis broker; no broker → tasks run inline.
CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER: bool = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE: str = env.str("CELERY_QUEUE", default="tessera")
# At-least-once: a task is acknowledged after it ran, and redelivered if its worker died.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Celery's Django fixup closes the DB connection around every task unless told to reuse it: a
# new PostgreSQL connection per task cost ~4× the billing throughput here. Connections are
# instead recycled like requests' (CONN_MAX_AGE, health checks) in payments_site/celery.py.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_BEAT_SCHEDULE = {
    "billing-enqueue-due": {"task": "checkout.tasks.billing_enqueue_due", "schedule": 60.0},
    "charges-reconcile": {"task": "checkout.tasks.charges_reconcile", "schedule": 300.0},
    "idempotency-purge": {"task": "checkout.tasks.idempotency_purge", "schedule": 3600.0},
    # The audit chain's head, logged: anchors outside the database for verify_audit_chain.
    "audit-chain-anchor": {"task": "monitoring.audit_chain_anchor", "schedule": 300.0},
}

# --- Checkout sessions and the hosted page (issue 6) ------------------------------------------
# A session's page lives this long unless the merchant asks for 5 min … 24 h (`expires_in`).
CHECKOUT_SESSION_TTL_SECONDS: int = env.int("CHECKOUT_SESSION_TTL_SECONDS", default=30 * 60)
# success_url / cancel_url must be https; development and tests also allow http (localhost).
CHECKOUT_REDIRECT_HTTP_ALLOWED = False
# An attempt that holds a session longer than this is presumed dead (> gunicorn's timeout) and
# the session reopens for the shopper.
CHECKOUT_ATTEMPT_LOCK_SECONDS: int = env.int("CHECKOUT_ATTEMPT_LOCK_SECONDS", default=90)

# --- Admin second factor (PCI DSS 8.4.2): TOTP or a recovery code on every staff login ------
# Production refuses to turn it off.
ADMIN_MFA_REQUIRED = env.bool("ADMIN_MFA_REQUIRED", default=True)
MFA_ENROLMENT_MAX_AGE = 72 * 3600
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Tessera")
# The admin never shows an existing device's TOTP key or recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- Monitoring (monitoring/) ---------------------------------------------------------------------
# Cache alias holding lockout/anomaly counters and cool-offs: Redis when REDIS_URL is set.
MONITORING_CACHE = "default"
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
# monitoring.security.engine.DEFAULT_RULES, e.g. {"jwt.rejections.ip": {"threshold": 50}}.
ANOMALY_RULES: dict[str, dict[str, object] | None] = {}
# Payment-page script inventory (PCI DSS 6.4.3/11.6.1) for `manage.py check_payment_page`;
# the checkout app fills it when its hosted page exists.
PAYMENT_PAGE_INVENTORY = env.str(
    "PAYMENT_PAGE_INVENTORY", default=str(BASE_DIR / "checkout" / "payment_page_inventory.json")
)

# --- Webhooks (issue 8): events pushed to merchants' endpoints (checkout/webhooks/) ------------
# One attempt: the whole exchange (connect, TLS, request, answer) within this deadline; at most
# this much of the answer is read. No redirect is ever followed.
WEBHOOK_TIMEOUT_SECONDS: float = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024
# A claimed attempt keeps other workers off for timeout + this margin (DNS, recording); after
# that a delivery whose worker died is due again (at-least-once).
WEBHOOK_LEASE_MARGIN_SECONDS: float = 60.0
# Retries: base·2^(n-1) seconds (±20 % jitter), at most the max delay apart, for the window;
# then the delivery fails and an endpoint failing all along is disabled with an alert.
WEBHOOK_RETRY_BASE_SECONDS: float = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=60.0)
WEBHOOK_RETRY_MAX_DELAY_SECONDS: float = 8 * 3600.0
WEBHOOK_RETRY_WINDOW_SECONDS: float = 3 * 86400.0
# A rolled signing secret keeps signing next to its successor this long.
WEBHOOK_SECRET_OVERLAP_SECONDS: int = 24 * 3600
WEBHOOK_MAX_ENDPOINTS: int = env.int("WEBHOOK_MAX_ENDPOINTS", default=16)
# Events (with their deliveries and attempts) are kept this long, never fewer than 30 days.
WEBHOOK_EVENT_RETENTION_DAYS: int = env.int("WEBHOOK_EVENT_RETENTION_DAYS", default=30)
# Endpoint URLs must be https (production refuses to change this).
WEBHOOK_ALLOW_HTTP: bool = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
# Non-public addresses webhooks may nevertheless reach ("127.0.0.1" or "127.0.0.1:8080"): for
# test receivers only. Production refuses to start with any.
WEBHOOK_ADDRESS_ALLOWLIST: list[str] = env.list("WEBHOOK_ADDRESS_ALLOWLIST", default=[])
# PEM bundle that replaces the system trust store for endpoints' certificates (tests).
WEBHOOK_CA_BUNDLE: str = env.str("WEBHOOK_CA_BUNDLE", default="")
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] |= {  # type: ignore[operator]
    "WebhookEndpointStatusEnum": "checkout.webhooks.models.WebhookEndpoint.Status",
    "EventTypeEnum": "checkout.webhooks.models.EventType",
}
CELERY_BEAT_SCHEDULE["webhooks-enqueue-due"] = {
    "task": "checkout.webhooks.enqueue_due",
    "schedule": 30.0,
}
CELERY_BEAT_SCHEDULE["webhooks-events-purge"] = {
    "task": "checkout.webhooks.events_purge",
    "schedule": 3600.0,
}
