"""What each member of a signed token we accept may hold: one table, checked before any use.

A valid signature says who made a token, not that its members have the types the code
expects: ``"exp": "1700000000"`` compared to a number is a ``TypeError``, a 500. So every
header member and claim of every token the vault accepts has a row here (its type, its range
or pattern, whether it is required, the refusal it earns), ``members_check`` applies a table
to a parsed object before anything reads it, and members without a row are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Seconds since the epoch that a token of ours can carry: after 2001, before 2100.
EPOCH_MIN, EPOCH_MAX = 1_000_000_000, 4_102_444_800
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_COMPACT_JWE = re.compile(r"^[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){4}$")


class MemberRefused(Exception):
    """A member absent, of the wrong type or out of range; ``reason`` is its row's."""

    def __init__(self, name: str, reason: str, message: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.name = name
        self.reason = reason
        self.message = message
        self.malformed = malformed


@dataclass(frozen=True)
class Member:
    """One header member or claim: its JSON type, a check of its value, and its refusal.

    ``kind`` is ``str`` or ``int`` (an ``int`` is never a ``bool`` here, although Python says
    it is); ``valid`` sees only values of that type. ``malformed`` says the refusal is about
    the token's shape (400) rather than its authority (401).
    """

    kind: type
    valid: Callable[[Any], bool]
    reason: str
    required: bool = True
    malformed: bool = False

    def accepts(self, value: object) -> bool:
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return False
        return isinstance(value, self.kind) and self.valid(value)


def _matches(pattern: re.Pattern[str], max_length: int) -> Callable[[Any], bool]:
    return lambda value: len(value) <= max_length and bool(pattern.match(value))


def _epoch(value: int) -> bool:
    return EPOCH_MIN <= value <= EPOCH_MAX


def _short_text(max_length: int) -> Callable[[Any], bool]:
    return lambda value: 0 < len(value) <= max_length and value.isprintable()


# The card JWT's protected header (RFC 7515 §4.1; the values themselves are checked in
# ``ingest`` so that each refusal keeps its own reason).
CARD_JWT_HEADER: Mapping[str, Member] = {
    "alg": Member(str, _short_text(16), "unsupported_algorithm"),
    "typ": Member(str, _short_text(32), "wrong_token_type"),
    "kid": Member(str, _matches(_KID, 128), "unknown_kid"),
}

# The card JWT's claim set (RFC 7519 §4.1 plus ours: ``nonce`` of the page, ``mer`` the
# merchant, ``card`` the JWE, ``cip`` the shopper's address as the checkout saw it).
CARD_JWT_CLAIMS: Mapping[str, Member] = {
    "iss": Member(str, _short_text(256), "invalid_issuer"),
    "aud": Member(str, _short_text(256), "invalid_audience"),
    "iat": Member(int, _epoch, "invalid_issued_at"),
    "exp": Member(int, _epoch, "invalid_expiry"),
    "jti": Member(str, _matches(_ID, 64), "invalid_jti"),
    "sub": Member(str, _matches(_ID, 64), "invalid_sub"),
    "mer": Member(str, _matches(_ID, 64), "invalid_merchant"),
    "nonce": Member(str, _matches(_NONCE, 128), "invalid_nonce"),
    "card": Member(str, _matches(_COMPACT_JWE, 8192), "malformed_card_encryption", malformed=True),
    "cip": Member(str, _short_text(45), "invalid_client_ip", required=False),
    # The mode the checkout session was made in: the vault keeps test and live cards apart.
    "livemode": Member(bool, lambda value: True, "invalid_livemode"),
}


def members_check(
    value: Mapping[str, Any],
    table: Mapping[str, Member],
    *,
    what: str,
    missing: str | None = None,
) -> dict[str, Any]:
    """``value`` as a plain dict once every member has passed its row; the first failure
    raises ``MemberRefused``: a missing member (reason ``missing``, or its row's when
    ``None``), then an unknown one (``unsupported_<what>``), then a wrong type or value, each
    in table order."""
    for name, member in table.items():
        if member.required and name not in value:
            reason = missing or member.reason
            raise MemberRefused(
                name, reason, f"Required {what} missing: {name}.", malformed=member.malformed
            )
    unknown = sorted(set(value) - set(table))
    if unknown:
        raise MemberRefused(unknown[0], f"unsupported_{what}", f"Unsupported {what} parameters.")
    for name, member in table.items():
        if name in value and not member.accepts(value[name]):
            raise MemberRefused(
                name, member.reason, f"The {name} {what} is not valid.", malformed=member.malformed
            )
    return dict(value)
