"""Production settings refuse to start without their secrets and pass ``check --deploy``."""

from __future__ import annotations

import secrets
import subprocess
import sys

from tests.support.servers import ROOT

PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "payments_site.settings.production",
    "ENV_FILE": "/dev/null",
    "PATH": "/usr/bin:/bin",
}
# Production also names its key service (tests/vault/test_keys.py covers those checks).
KMS_ENV = {
    "KEYS_BACKEND": "aws",
    "AWS_REGION": "eu-west-1",
    "KMS_SIGN_KEY_ID": "alias/tessera-sign",
    "KMS_JWE_KEY_ID": "alias/tessera-jwe",
    "KMS_VAULT_KEY_ID": "alias/tessera-vault",
    "KMS_FINGERPRINT_KEY_ID": "alias/tessera-fingerprint",
    "AUDIT_KMS_KEY_ID": "alias/tessera-audit",
}


def production_env() -> dict[str, str]:
    """Every variable production requires (but the key service's), with harmless values."""
    return {
        **PROD_ENV,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "pay.example.com",
        "DATABASE_URL": "postgres://tessera@db.invalid:5432/tessera",
        "REDIS_URL": "redis://cache.invalid:6379/0",
    }


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_missing_secret_key_is_named() -> None:
    env = {**PROD_ENV, "ALLOWED_HOSTS": "pay.example.com", "DATABASE_URL": "sqlite:///x.db"}

    result = _run("manage.py", "check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "Missing required environment variables for production: SECRET_KEY" in result.stderr


def test_every_missing_variable_is_named_at_once() -> None:
    result = _run("manage.py", "check", env=PROD_ENV)

    assert "SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL, KEYS_BACKEND" in result.stderr


def test_the_audit_signing_key_is_required_on_kms() -> None:
    env = {**production_env(), **KMS_ENV}
    del env["AUDIT_KMS_KEY_ID"]

    result = _run("manage.py", "check", env=env)

    assert result.returncode != 0
    refusal = result.stderr.strip().splitlines()[-1]
    assert refusal.endswith(
        "Missing required environment variables for production: AUDIT_KMS_KEY_ID"
    )


def test_a_local_audit_signing_key_is_refused_unless_explicitly_allowed() -> None:
    env = {**production_env(), **KMS_ENV, "AUDIT_SIGNING_BACKEND": "local"}

    refused = _run("manage.py", "check", env=env)
    allowed = _run("manage.py", "check", env={**env, "LOCAL_KEYS_ALLOWED_IN_PRODUCTION": "true"})

    assert refused.returncode != 0
    refusal = refused.stderr.strip().splitlines()[-1]
    assert refusal.endswith(
        "AUDIT_SIGNING_BACKEND=local keeps the audit signing key on disk and is refused in "
        "production: use aws with AUDIT_KMS_KEY_ID (manage.py kms_bootstrap creates it), "
        "or set LOCAL_KEYS_ALLOWED_IN_PRODUCTION=true on purpose."
    )
    assert allowed.returncode == 0, allowed.stderr


def test_check_deploy_is_silent() -> None:
    env = {**production_env(), **KMS_ENV}

    result = _run("manage.py", "check", "--deploy", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert result.stderr.strip() == ""


def test_production_security_settings() -> None:
    env = {
        **production_env(),
        **KMS_ENV,
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
        "s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, s.X_FRAME_OPTIONS, "
        "s.SECURE_REFERRER_POLICY, s.SESSION_COOKIE_AGE, s.SECURE_PROXY_SSL_HEADER, "
        "s.CSRF_TRUSTED_ORIGINS)"
    )
    result = _run("-c", code, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "31536000",
        "True",
        "True",
        "True",
        "True",
        "True",
        "True",
        "Strict",
        "DENY",
        "strict-origin-when-cross-origin",
        "900",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "['https://pay.example.com']",
    ]
