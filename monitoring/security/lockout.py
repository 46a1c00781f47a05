"""Lockout for credentials that django-axes does not see: merchant API keys (PCI DSS 8.3.4).

Failed attempts are counted per source address on the shared counter store; at
``API_KEY_LOCKOUT["failure_limit"]`` failures within ``window_seconds`` the address is locked
for ``cooloff_seconds`` (by default the same 10 failures / 30 minutes as the admin login), and
every API-key request from it is answered 429 problem+json with ``Retry-After``, valid key or
not, so a lock cannot be used to test guesses. A success does not reset the count: an attacker
holding one valid key could otherwise interleave it with guesses.

The vault's ``ApiKeyAuthentication`` calls ``credential_lockout_check`` before looking a key up
and ``credential_failure_record`` after a failed lookup.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from monitoring.audit.services import audit_record
from monitoring.observability.metrics import lockout_inc
from monitoring.security.counters import counter_store
from payments_site.kernel.errors import DomainError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {"failure_limit": 10, "window_seconds": 1800, "cooloff_seconds": 1800}


class TooManyFailedAttempts(DomainError):
    code = "too_many_failed_attempts"


def _config() -> dict[str, int]:
    return {**DEFAULTS, **getattr(settings, "API_KEY_LOCKOUT", {})}


def _source(ip: str | None) -> str:
    return ip or "unknown"


def credential_lockout_remaining(*, kind: str = "api_key", ip: str | None) -> int:
    """Seconds the source stays locked out; 0 when it is not."""
    until = counter_store().get_float(f"lock:{kind}:{_source(ip)}")
    if until is None:
        return 0
    return max(0, math.ceil(until - time.time()))


def credential_lockout_check(*, kind: str = "api_key", ip: str | None) -> None:
    """Raise ``TooManyFailedAttempts`` (429, Retry-After) while the source is locked out."""
    remaining = credential_lockout_remaining(kind=kind, ip=ip)
    if remaining:
        raise TooManyFailedAttempts(
            str(_("Too many failed attempts from your address. Try again later.")),
            retry_after=remaining,
        )


def credential_failure_record(*, kind: str = "api_key", ip: str | None) -> int:
    """Count one failed attempt; lock the source when it reaches the limit. Returns the count."""
    config = _config()
    store = counter_store()
    source = _source(ip)
    failures = store.incr(f"fail:{kind}:{source}", ttl=config["window_seconds"])
    if failures >= config["failure_limit"]:
        lock_key = f"lock:{kind}:{source}"
        cooloff = config["cooloff_seconds"]
        if store.add_flag(f"lockstart:{kind}:{source}", ttl=cooloff):
            store.set_float(lock_key, time.time() + cooloff, ttl=cooloff)
            store.delete(f"fail:{kind}:{source}")
            _on_lockout(kind=kind, ip=ip, failures=failures, cooloff=cooloff)
    return failures


def _on_lockout(*, kind: str, ip: str | None, failures: int, cooloff: int) -> None:
    logger.warning(
        "credential_lockout",
        extra={"kind": kind, "source_ip": ip, "failures": failures, "cooloff_seconds": cooloff},
    )
    lockout_inc(kind=kind)
    audit_record(
        action=f"{kind}.lockout",
        outcome="denied",
        actor=f"ip:{ip or 'unknown'}",
        reason="too_many_failures",
        data={"failures": failures, "cooloff_seconds": cooloff},
    )
