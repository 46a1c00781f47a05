"""Public identifiers: a type prefix and ≥128 random bits in base62 (``tok_``, ``mer_``, ``ch_``…).

Prefixes make a leaked id self-describing in support tickets; the random part makes ids
unguessable, so knowing one never helps enumerate another.
"""

from __future__ import annotations

import secrets
import string
from functools import cache

ALPHABET = string.digits + string.ascii_letters


def base62(nbytes: int) -> str:
    """``nbytes`` of CSPRNG output as a fixed-width base62 string."""
    value = int.from_bytes(secrets.token_bytes(nbytes), "big")
    return _encode(value).rjust(_width(nbytes), "0")


@cache
def _width(nbytes: int) -> int:
    """Characters of the largest ``nbytes`` value: computed once per size, not per id."""
    return len(_encode((1 << (8 * nbytes)) - 1))


# Every pair of base62 digits: an id's 22 characters take 11 divisions, not 22.
_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]


def _encode(value: int) -> str:
    """``value`` in base62, most significant digit first, without leading zeros."""
    out = []
    while value:
        value, rem = divmod(value, 3844)
        out.append(_PAIRS[rem])
    return "".join(reversed(out)).lstrip("0") or "0"


def new_id(prefix: str, nbytes: int = 16) -> str:
    """``prefix_`` + ``nbytes`` random bytes (16 bytes = 128 bits → 22 base62 characters)."""
    return f"{prefix}_{base62(nbytes)}"
