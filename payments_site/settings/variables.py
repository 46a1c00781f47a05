"""Every environment variable Tessera reads, with what it allows: the one table the settings'
reader (``environment.StrictEnv``) enforces, ``.env.example`` documents and the tests are
generated from (``tests/payments_site/test_variables.py``).

``kind`` is how the code reads it (``str``, ``int``, ``float``, ``bool``, ``list``, ``db``);
``allowed`` is the text an error shows after "allowed:"; ``choices``, ``pattern`` (a full match,
per item for lists) and ``minimum``/``maximum`` are what is enforced. ``secret`` values are
never repeated in an error. ``bad`` adds wrong values to those the tests derive from the rule.
``internal`` ones are for tests and tooling and stay out of ``.env.example``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    kind: str
    allowed: str
    choices: tuple[str, ...] = ()
    pattern: str = ""
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False
    internal: bool = False
    bad: tuple[str, ...] = ()


_SECONDS = "a number of seconds"
_URL = r"https?://[^\s/]+(/\S*)?"
_HOST = r"\.?[A-Za-z0-9*]([A-Za-z0-9.*-]*)|\[[0-9A-Fa-f:]+\]"
_IDENTIFIER = r"[A-Za-z0-9_.:/-]+"
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+"


def _whole(allowed: str, minimum: int, maximum: int | None = None) -> Variable:
    return Variable("int", allowed, minimum=minimum, maximum=maximum)


def _number(allowed: str, minimum: float, maximum: float | None = None) -> Variable:
    return Variable("float", allowed, minimum=minimum, maximum=maximum)


def _flag(allowed: str = "true or false", internal: bool = False) -> Variable:
    return Variable("bool", allowed, internal=internal)


def _text(allowed: str, pattern: str = r"\S+", **kwargs: object) -> Variable:
    return Variable("str", allowed, pattern=pattern, **kwargs)  # type: ignore[arg-type]


VARIABLES: dict[str, Variable] = {
    # --- Django ---------------------------------------------------------------------------------
    "SECRET_KEY": _text(
        "50 or more random characters, no spaces", r"\S{50,}", secret=True, bad=("short",)
    ),
    "SECRET_KEY_FALLBACKS": Variable(
        "list",
        "comma-separated previous keys, each 50+ characters",
        pattern=r"\S{50,}",
        secret=True,
    ),
    "ALLOWED_HOSTS": Variable(
        "list", "comma-separated host names or addresses", pattern=_HOST, bad=("pay example.com",)
    ),
    "CSRF_TRUSTED_ORIGINS": Variable(
        "list", "comma-separated origins like https://pay.example.com", pattern=r"https?://[^\s/]+"
    ),
    "SECURE_PROXY_SSL_HEADER": Variable(
        "list", "HEADER_NAME,value, e.g. HTTP_X_FORWARDED_PROTO,https", pattern=r"[A-Za-z0-9_-]+"
    ),
    "PORT": _whole("1024 to 65535 (the port `make run` serves)", 1024, 65_535),
    "PUBLIC_ORIGIN": _text(
        "https://host[:port], the address people open (links the commands print)",
        r"https?://[^\s/]+",
    ),
    "DEBUG": _flag("true or false (development settings only)"),
    "LOG_FORMAT": Variable(
        "str", "json or console (lines for a person; not in production)", ("json", "console")
    ),
    "LOG_LEVEL": Variable(
        "str", "DEBUG, INFO, WARNING or ERROR", ("DEBUG", "INFO", "WARNING", "ERROR")
    ),
    "ENV_FILE": _text("a path to a NAME=value file, or /dev/null"),
    "DATABASE_URL": Variable(
        "db",
        "postgres://user:password@host:5432/name or sqlite:///path",
        pattern=r"(postgres|postgresql|pgsql|sqlite)://\S*",
        secret=True,
        bad=("mysql://u@db/x",),
    ),
    "DB_CONN_MAX_AGE": _whole("0 or more seconds", 0),
    # --- cache, counters, Celery ------------------------------------------------------------
    "REDIS_URL": _text(
        "redis://host:6379/0 or rediss://…", r"(redis|rediss|unix)://\S+", secret=True
    ),
    "CACHE_KEY_PREFIX": _text("letters, digits, - and _", r"[A-Za-z0-9_-]+"),
    "CELERY_BROKER_URL": _text(
        "redis://host:6379/0 (empty: REDIS_URL)", r"(redis|rediss|memory)://\S*", secret=True
    ),
    "CELERY_QUEUE": _text("letters, digits, ., - and _", r"[A-Za-z0-9_.-]+"),
    "CELERY_TASK_ALWAYS_EAGER": _flag(internal=True),
    # --- keys -------------------------------------------------------------------------------
    "KEYS_BACKEND": Variable("str", "aws or local", ("aws", "local")),
    "KEYS_MODE": Variable(
        "str", "strict (every card's key operations in KMS) or working", ("strict", "working")
    ),
    "KEYS_WORKING_PERIOD_SECONDS": _whole("300 to 86400 seconds", 300, 86_400),
    "KEYS_ENVIRONMENT": _text("letters, digits, ., - and _", r"[A-Za-z0-9_.-]{1,64}"),
    "AWS_REGION": _text("an AWS region like eu-west-1", r"[a-z]{2}(-[a-z]+)+-\d"),
    "AWS_DEFAULT_REGION": _text("an AWS region like eu-west-1", r"[a-z]{2}(-[a-z]+)+-\d"),
    "AWS_ENDPOINT_URL": _text("an http(s) URL (moto_server, LocalStack)", _URL),
    "KMS_SIGN_KEY_ID": _text("a KMS key id, ARN or alias/…", _IDENTIFIER),
    "KMS_JWE_KEY_ID": _text("a KMS key id, ARN or alias/…", _IDENTIFIER),
    "KMS_VAULT_KEY_ID": _text("a KMS key id, ARN or alias/…", _IDENTIFIER),
    "KMS_FINGERPRINT_KEY_ID": _text("a KMS key id, ARN or alias/…", _IDENTIFIER),
    "KMS_SIGN_PREVIOUS_KEY_IDS": Variable(
        "list", "comma-separated KMS key ids", pattern=_IDENTIFIER
    ),
    "KMS_JWE_PREVIOUS_KEY_IDS": Variable(
        "list", "comma-separated KMS key ids", pattern=_IDENTIFIER
    ),
    "KMS_CONNECT_TIMEOUT": _number(f"{_SECONDS}, 0.1 to 60", 0.1, 60),
    "KMS_READ_TIMEOUT": _number(f"{_SECONDS}, 0.1 to 60", 0.1, 60),
    "KMS_MAX_ATTEMPTS": _whole("1 to 10", 1, 10),
    "KMS_PUBLIC_KEY_CACHE_SECONDS": _number(f"{_SECONDS}, 0 to 86400", 0, 86400),
    "DATA_KEY_MAX_AGE_SECONDS": _number(f"{_SECONDS}, 1 to 86400", 1, 86400),
    "DATA_KEY_MAX_USES": _whole("1 to 1000000", 1, 1_000_000),
    "LOCAL_KEYRING_PATH": _text("a file path"),
    "LOCAL_KEYS_ALLOWED_IN_PRODUCTION": _flag(),
    # --- card transport ---------------------------------------------------------------------
    "CARD_JWT_ISSUER": _text("a name without spaces"),
    "CARD_JWT_AUDIENCE": _text("the vault's DNS name", r"[A-Za-z0-9.-]+"),
    "CARD_JWT_LIFETIME_SECONDS": _whole("1 to 300 seconds", 1, 300),
    "CARD_JWT_LEEWAY_SECONDS": _whole("0 to 30 seconds", 0, 30),
    "INGEST_MERCHANT_CACHE_SECONDS": _number(f"{_SECONDS}, 0 to 60", 0, 60),
    # --- charges, billing, hosted checkout ----------------------------------------------------
    "PROCESSOR_BACKEND": _text("a dotted path to a Processor class", _DOTTED),
    "PROCESSOR_LIVE": _text(
        "a dotted path to live mode's Processor class, never the sandbox (empty: none)", _DOTTED
    ),
    "ADYEN_TEST_ENDPOINT": _text("Adyen's Checkout v71 base URL", _URL),
    "ADYEN_TEST_API_KEY": _text("an Adyen API key", r"\S+", secret=True),
    "ADYEN_TEST_MERCHANT_ACCOUNT": _text("an Adyen merchant account name", r"\S+"),
    "ADYEN_LIVE_ENDPOINT": _text("your live prefix URL …-checkout-live.adyenpayments.com", _URL),
    "ADYEN_LIVE_API_KEY": _text("an Adyen API key", r"\S+", secret=True),
    "ADYEN_LIVE_MERCHANT_ACCOUNT": _text("an Adyen merchant account name", r"\S+"),
    "ADYEN_HMAC_KEY": _text("a hex HMAC key", r"[0-9A-Fa-f]{64}", secret=True),
    "ADYEN_HMAC_PREVIOUS_KEYS": Variable(
        "list",
        "comma-separated previous hex HMAC keys, 64 characters each",
        pattern=r"[0-9A-Fa-f]{64}",
        secret=True,
    ),
    "ADYEN_TIMEOUT_SECONDS": _number(f"{_SECONDS}, 1 to 60", 1, 60),
    "ADYEN_CA_BUNDLE": _text("a path to a PEM file (empty: the system store)"),
    "PROCESSOR_SANDBOX_LATENCY_MS": _whole("0 to 60000 milliseconds", 0, 60_000),
    "PROCESSOR_SANDBOX_FAULT": Variable(
        "str",
        "timeout_before, timeout_after or connection_error (empty: none)",
        ("timeout_before", "timeout_after", "connection_error"),
    ),
    "PROCESSOR_SANDBOX_FAULT_ON": _text(
        "comma-separated charge, authorize, capture, void, refund (empty: all)",
        r"(charge|authorize|capture|void|refund)(,(charge|authorize|capture|void|refund))*",
    ),
    "CHARGE_RECONCILE_AFTER_SECONDS": _whole("0 or more seconds", 0),
    "PROCESSOR_ANSWER_OVERDUE_SECONDS": _whole("0 or more seconds", 0),
    "AUTHORIZATION_TTL_HOURS": _whole("1 to 720 hours", 1, 720),
    "IDEMPOTENCY_KEY_TTL_HOURS": _whole("24 or more hours", 24),
    "IDEMPOTENCY_LOCK_SECONDS": _whole("1 or more seconds (more than gunicorn's timeout)", 1),
    "DUNNING_DAYS": Variable(
        "list", "comma-separated days after the due date, e.g. 1,3,5", pattern=r"[1-9]\d{0,2}"
    ),
    "API_THROTTLE_RATE": _text(
        "N/second, N/minute or N/hour", r"[1-9]\d*/(s|sec|second|m|min|minute|h|hour)"
    ),
    "CHECKOUT_CLOCK": _text("a dotted path to a callable", _DOTTED, internal=True),
    "CHECKOUT_SESSION_TTL_SECONDS": _whole("300 to 86400 seconds", 300, 86_400),
    "CHECKOUT_ATTEMPT_LOCK_SECONDS": _whole("1 or more seconds (more than gunicorn's timeout)", 1),
    "CHECKOUT_REDIRECT_HTTP_ALLOWED": _flag("true or false (development settings only)"),
    # --- monitoring ---------------------------------------------------------------------------
    "AXES_FAILURE_LIMIT": _whole("1 to 1000 failures", 1, 1000),
    "AXES_COOLOFF_HOURS": _number("hours, 0.01 to 720", 0.01, 720),
    "AXES_PROXY_COUNT": _whole("0 to 10 proxies", 0, 10),
    "ADMIN_MFA_REQUIRED": _flag("true or false (always true in production)"),
    "OTP_TOTP_ISSUER": _text("a name shown in authenticator apps", r".+"),
    "METRICS_BEARER_TOKEN": _text(
        "16 or more characters, no spaces (empty: /metrics is 404)", r"\S{16,}", secret=True
    ),
    "PROMETHEUS_MULTIPROC_DIR": _text("an empty writable directory (empty: one process)", r".+"),
    "SENTRY_DSN": _text("a Sentry DSN URL (empty: off)", _URL, secret=True),
    "SENTRY_ENVIRONMENT": _text("a name like production", r"[A-Za-z0-9_.-]+"),
    "SENTRY_RELEASE": _text("a release name", r"\S+"),
    "SENTRY_TRACES_SAMPLE_RATE": _number("0 to 1", 0, 1),
    "PAYMENT_PAGE_INVENTORY": _text("a path to the page's script inventory JSON"),
    "AUDIT_SEAL_INTERVAL_SECONDS": _number(f"{_SECONDS}, 0.1 to 60", 0.1, 60),
    "AUDIT_SEAL_SETTLE_SECONDS": _number(f"{_SECONDS}, 0 to 60", 0, 60),
    "AUDIT_SEAL_MAX_EVENTS": _whole("100 to 1000000 events", 100, 1_000_000),
    "AUDIT_SIGN_INTERVAL_SECONDS": _number(f"{_SECONDS}, 0 to 3600", 0, 3600),
    "AUDIT_SIGNING_BACKEND": Variable("str", "aws or local", ("aws", "local")),
    "AUDIT_KMS_KEY_ID": _text(
        "a KMS key id, ARN or alias/… (required in production when signing on aws)", _IDENTIFIER
    ),
    "AUDIT_SIGNING_KEY_PATH": _text("a file path"),
    # --- webhooks -------------------------------------------------------------------------------
    "WEBHOOK_TIMEOUT_SECONDS": _number(f"{_SECONDS}, 1 to 30", 1, 30),
    "WEBHOOK_RETRY_BASE_SECONDS": _number(f"{_SECONDS}, 1 to 3600", 1, 3600),
    "WEBHOOK_MAX_ENDPOINTS": _whole("1 to 100 endpoints", 1, 100),
    "WEBHOOK_EVENT_RETENTION_DAYS": _whole("30 or more days", 30),
    "WEBHOOK_CA_BUNDLE": _text("a path to a PEM file (empty: the system store)"),
    "WEBHOOK_ALLOW_HTTP": _flag("true or false (refused in production)"),
    "WEBHOOK_ALLOWED_PORTS": Variable(
        "list",
        "comma-separated TCP ports endpoint URLs may name, e.g. 443",
        pattern=r"[1-9]\d{0,4}",
    ),
    "WEBHOOK_ADDRESS_ALLOWLIST": Variable(
        "list",
        "comma-separated addresses, host or host:port (refused in production)",
        pattern=r"[0-9A-Fa-f.:\[\]]+",
    ),
    # --- relay ------------------------------------------------------------------------------
    "RELAY_TIMEOUT_SECONDS": _number(f"{_SECONDS}, 1 to 30", 1, 30),
    "RELAY_CA_BUNDLE": _text("a path to a PEM file (empty: the system store)"),
    # --- tests and tooling ----------------------------------------------------------------------
    "SQLITE_TEST_DB": _text("a file path", internal=True),
    "ROOT_URLCONF": _text("a dotted module path", _DOTTED, internal=True),
    # Read by payments_site/gunicorn_conf.py.
    "WEB_CONCURRENCY": _whole("1 to 64 workers", 1, 64),
    "GUNICORN_TIMEOUT": _whole("5 to 600 seconds", 5, 600),
    "GUNICORN_ACCESS_LOG": _text("a file path, or - for standard output"),
    "FORWARDED_ALLOW_IPS": Variable(
        "list", "comma-separated proxy addresses, or *", pattern=r"\*|[0-9A-Fa-f.:/]+"
    ),
}
