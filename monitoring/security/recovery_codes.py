"""What is stored for an admin recovery code: a keyed hash, never the code.

Kept apart from ``mfa.py`` (enrolment, which writes the audit trail) so the device model can
check a code without importing the services above it.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.crypto import salted_hmac

_RECOVERY_SALT = "monitoring.mfa.recovery-code"


def recovery_code_digest(code: str, *, secret: str | None = None) -> str:
    """What is stored for a recovery code: HMAC-SHA256 under ``SECRET_KEY``, 64 bits as 16 hex
    characters (django-otp's column). A code has only 40 bits: a plain hash of it would fall
    to an offline search of a database copy; without the key there is nothing to search."""
    normalized = "".join(code.split()).replace("-", "").lower()
    digest = salted_hmac(_RECOVERY_SALT, normalized, secret=secret, algorithm="sha256")
    return digest.hexdigest()[:16]


def recovery_code_digests(code: str) -> list[str]:
    """The code's digest under the current key and each of ``SECRET_KEY_FALLBACKS``, so a key
    rotation does not lock staff out of their recovery codes."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [recovery_code_digest(code, secret=secret) for secret in secrets]
