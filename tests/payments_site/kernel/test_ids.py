"""Public ids: a prefix and fixed-width base62 of CSPRNG bytes."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from payments_site.kernel.ids import ALPHABET, _encode, base62, new_id


def _digit_by_digit(value: int) -> str:
    out = ""
    while value:
        value, rem = divmod(value, 62)
        out = ALPHABET[rem] + out
    return out or "0"


@given(st.integers(min_value=0, max_value=(1 << 256) - 1))
def test_base62_is_positional_notation(value: int) -> None:
    assert _encode(value) == _digit_by_digit(value)


def test_ids_have_their_prefix_and_a_fixed_width() -> None:
    ids = {new_id("ch") for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"ch_[0-9A-Za-z]{22}", i) for i in ids)
    assert len(base62(32)) == len(_digit_by_digit((1 << 256) - 1))
    assert {len(base62(n)) for n in (1, 2, 8, 16, 24) for _ in range(50)} == {
        len(_digit_by_digit((1 << (8 * n)) - 1)) for n in (1, 2, 8, 16, 24)
    }
