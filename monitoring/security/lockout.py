"""Lockout for credentials that django-axes does not see: merchant API keys (PCI DSS 8.3.4).

Failed attempts are counted per source address *and key prefix* (the first 12 characters of
the presented key: its mode and four random characters, what the admin shows of each key). At
``API_KEY_LOCKOUT["failure_limit"]`` failures within ``window_seconds`` that pair is locked for
``cooloff_seconds`` (by default the same 10 failures / 30 minutes as the admin login): every key
with that prefix from that address is answered 429 problem+json with ``Retry-After``, valid or
not, so a guess at a known key's remaining characters cannot be tested while it is locked.

A lock never reaches further than that pair. Anyone can send bad keys without holding one, so a
lock on a whole address would let whoever shares it (a NAT, a proxy whose ``AXES_PROXY_COUNT``
is 0) shut out every merchant behind it; a merchant's valid key of another prefix still works.
Guessing stays infeasible by entropy rather than by lockout: a key carries 256 random bits, so
even 10⁹ guesses a second for a century cover about 2⁻¹⁹⁴ of the key space (2⁻¹⁷⁰
for someone who knows a key's prefix). Every bad key also
feeds the anomaly rules (``Signal.API_KEY_REJECTED``): a burst from one address, or across all
addresses, raises an audited security alert for the operators.

A success does not reset the count: an attacker holding one valid key could otherwise
interleave it with guesses. The vault's ``ApiKeyAuthentication`` calls
``credential_lockout_check`` before looking a key up and ``credential_failure_record`` after a
failed lookup.
"""

from __future__ import annotations

import logging
import math
import re
import time
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from monitoring.audit.services import audit_record
from monitoring.observability.metrics import lockout_inc
from monitoring.security.counters import counter_store
from monitoring.security.engine import signal_record
from monitoring.security.rules import Signal
from payments_site.kernel.errors import DomainError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {"failure_limit": 10, "window_seconds": 1800, "cooloff_seconds": 1800}
PREFIX_LENGTH = 12
_PREFIX = re.compile(r"^sk_(?:test|live)_[0-9A-Za-z]{4}$")
MALFORMED = "malformed"


class TooManyFailedAttempts(DomainError):
    code = "too_many_failed_attempts"


def _config() -> dict[str, int]:
    return {**DEFAULTS, **getattr(settings, "API_KEY_LOCKOUT", {})}


def credential_prefix(secret: str) -> str:
    """The part of a presented key a lockout is keyed by: ``sk_test_AbC1`` for a well-formed
    key, ``malformed`` for anything else (one bucket for every malformed credential)."""
    prefix = secret[:PREFIX_LENGTH]
    return prefix if _PREFIX.match(prefix) else MALFORMED


def _source(ip: str | None, prefix: str) -> str:
    return f"{ip or 'unknown'}|{prefix}"


def credential_lockout_remaining(*, kind: str = "api_key", ip: str | None, prefix: str) -> int:
    """Seconds the (address, key prefix) pair stays locked out; 0 when it is not."""
    until = counter_store().get_float(f"lock:{kind}:{_source(ip, prefix)}")
    if until is None:
        return 0
    return max(0, math.ceil(until - time.time()))


def credential_lockout_check(*, kind: str = "api_key", ip: str | None, prefix: str) -> None:
    """Raise ``TooManyFailedAttempts`` (429, Retry-After) while the pair is locked out."""
    remaining = credential_lockout_remaining(kind=kind, ip=ip, prefix=prefix)
    if remaining:
        raise TooManyFailedAttempts(
            str(_("Too many failed attempts with this key from your address. Try again later.")),
            retry_after=remaining,
        )


def credential_failure_record(*, kind: str = "api_key", ip: str | None, prefix: str) -> int:
    """Count one failed attempt; lock the (address, prefix) pair when it reaches the limit and
    feed the alerting rules. Returns the pair's count."""
    config = _config()
    store = counter_store()
    source = _source(ip, prefix)
    failures = store.incr(f"fail:{kind}:{source}", ttl=config["window_seconds"])
    if failures >= config["failure_limit"]:
        lock_key = f"lock:{kind}:{source}"
        cooloff = config["cooloff_seconds"]
        if store.add_flag(f"lockstart:{kind}:{source}", ttl=cooloff):
            store.set_float(lock_key, time.time() + cooloff, ttl=cooloff)
            store.delete(f"fail:{kind}:{source}")
            _on_lockout(kind=kind, ip=ip, prefix=prefix, failures=failures, cooloff=cooloff)
    signal_record(Signal.API_KEY_REJECTED, ip=ip, everywhere=True, reason=kind)
    return failures


def _on_lockout(*, kind: str, ip: str | None, prefix: str, failures: int, cooloff: int) -> None:
    logger.warning(
        "credential_lockout",
        extra={
            "kind": kind,
            "source_ip": ip,
            "key_prefix": prefix,
            "failures": failures,
            "cooloff_seconds": cooloff,
        },
    )
    lockout_inc(kind=kind)
    audit_record(
        action=f"{kind}.lockout",
        outcome="denied",
        actor=f"ip:{ip or 'unknown'}",
        reason="too_many_failures",
        data={"failures": failures, "cooloff_seconds": cooloff, "key_prefix": prefix},
    )
