"""Settings shared by every environment: Django itself and the API; each integration and
domain in its own module, imported at the end (``database``, ``cache``, ``celery``, ``keys``,
``checkout``, ``webhooks``, ``relay``, ``monitoring``, ``security``), every setting defined once.

Nothing secret has a default here: ``development`` and ``test`` supply throwaway values,
``production`` refuses to start without real ones.
"""

from __future__ import annotations

import django_stubs_ext

from .environment import BASE_DIR, RUN_DIR, env

# Lets generic annotations like ``admin.ModelAdmin[Token]`` work at run time.
django_stubs_ext.monkeypatch()

DEBUG = False
# Where people reach this deployment (links printed by commands); each environment defaults it.
PUBLIC_ORIGIN: str = env.str("PUBLIC_ORIGIN", default="https://localhost:8443")
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])
# The root page offers a test-mode checkout for the demo merchant (development settings).
DEMO_CHECKOUT_ENABLED = False
# Development-only management commands (`listen`) refuse to run unless this is on.
DEVELOPMENT_COMMANDS = False
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
INSTALLED_APPS = [
    # django.contrib.admin with the two-factor admin site (monitoring/security/admin_site.py).
    "monitoring.apps.TesseraAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "csp",
    # axes and django-otp under names an operator reads (monitoring/apps.py).
    "monitoring.apps.AxesConfig",
    "django_otp",
    "monitoring.apps.OtpTotpConfig",
    "monitoring.apps.OtpStaticConfig",
    "monitoring",
    "vault",
    "checkout",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "monitoring.observability.middleware.RequestIdMiddleware",
    "monitoring.observability.middleware.MetricsMiddleware",
    "payments_site.middleware.RejectNulMiddleware",
    "payments_site.middleware.CardDataMiddleware",
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
    # After authentication: what an operation's OpenAPI schema does not declare is refused.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "vault.authentication.SuspendedMerchantReadOnly",
        "payments_site.parameters.DeclaredParametersOnly",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["payments_site.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "payments_site.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_VERSIONING_CLASS": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["checkout.api.throttling.ApiKeyRateThrottle"],
}
PROBLEM_TYPE_BASE = "https://docs.tessera.dev/problems/"
# JSON request bodies: a larger one is a 413, a deeper one a 400 (no API body comes near).
API_JSON_MAX_BYTES = 256 * 1024
API_JSON_MAX_DEPTH = 16
# Per API key, counted on the shared cache (Redis when REDIS_URL is set): "N/second|minute|hour".
API_THROTTLE_RATE: str = env.str("API_THROTTLE_RATE", default="100/second")
SPECTACULAR_SETTINGS = {
    "TITLE": "Tessera API",
    "DESCRIPTION": (
        "Charge stored card tokens now or on a schedule. Authenticate with "
        "`Authorization: Bearer sk_test_…`. Every POST accepts an `Idempotency-Key` header. "
        "Errors are RFC 9457 `application/problem+json`. An `sk_test_` key sees and makes "
        "only test-mode objects, an `sk_live_` key only live ones (`livemode` on every object "
        "and event; an id of the other mode is 404); test mode takes the public test cards "
        "only (`422 test_mode_live_card`), live mode refuses them; a live charge without a "
        "live processor is `403 live_mode_unavailable`."
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
        "checkout.api.schema.add_vault_transport",
        "checkout.api.schema.add_links",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PaymentStatusEnum": "checkout.payments.models.Charge.Status",
        "SubscriptionStatusEnum": "checkout.billing.models.Subscription.Status",
        "WebhookEndpointStatusEnum": "checkout.webhooks.models.WebhookEndpoint.Status",
        "EventTypeEnum": "checkout.webhooks.models.EventType",
    },
}

from .cache import *  # noqa: E402, F403
from .celery import *  # noqa: E402, F403
from .checkout import *  # noqa: E402, F403
from .database import *  # noqa: E402, F403
from .keys import *  # noqa: E402, F403
from .monitoring import *  # noqa: E402, F403
from .relay import *  # noqa: E402, F403
from .security import *  # noqa: E402, F403
from .webhooks import *  # noqa: E402, F403
