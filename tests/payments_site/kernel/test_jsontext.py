"""The bounded JSON parser: depth and size refused before the standard parser recurses."""

from __future__ import annotations

import pytest

from payments_site.kernel.jsontext import (
    MAX_DEPTH,
    JsonRefused,
    json_depth,
    json_object_parse,
    json_parse,
)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('"[[[[[[["', 0),
        ('["\\"[[[", {"k": "]]]"}]', 2),
        ("[[[[", 4),
        ("]]]][", 1),
    ],
)
def test_depth_is_measured_outside_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_nesting_that_would_exhaust_the_stack_is_refused_as_too_deep() -> None:
    for text in ("[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000, "[" * 5000):
        with pytest.raises(JsonRefused) as refused:
            json_parse(text, max_bytes=10**6)
        assert refused.value.reason == "too_deep"


def test_nesting_up_to_the_bound_parses() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH

    assert json_depth(text) == MAX_DEPTH
    assert json_parse(text) is not None
    with pytest.raises(JsonRefused):
        json_parse(text, max_depth=MAX_DEPTH - 1)


@pytest.mark.parametrize("data", [b"1" * 11, "é" * 6])  # 12 bytes of UTF-8 in six characters
def test_size_is_bounded_in_encoded_bytes(data: bytes | str) -> None:
    with pytest.raises(JsonRefused) as refused:
        json_parse(data, max_bytes=10)
    assert refused.value.reason == "too_large"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": 1, "a": 2}', "duplicate_member"),
        (b"NaN", "malformed"),
        (b"[Infinity]", "malformed"),
        (b"\xff", "malformed"),
        (b"{", "malformed"),
        (b"1" * 5000, "malformed"),  # beyond the interpreter's integer-digits limit
    ],
)
def test_ambiguous_or_invalid_json_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(JsonRefused) as refused:
        json_parse(data)
    assert refused.value.reason == reason
    assert isinstance(refused.value, ValueError)


def test_an_object_is_required_where_asked() -> None:
    assert json_object_parse(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(JsonRefused):
        json_object_parse(b"[1]")


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("[[[[]]]]", None),  # as many brackets as levels: at the bound
        ('{"a": {"b": [1]}}', None),
        ('["[[[[[[", "{{{{"]', None),  # brackets inside strings: scanned, shallow
        ("[[], [], [], [], [[]]]", None),  # many brackets, little depth
        ("[[[[", "malformed"),  # unbalanced, within the bound
        ("[[[[[", "too_deep"),
        ("[[[[[]]]]]", "too_deep"),  # one level too deep
    ],
)
def test_the_depth_bound_holds_whether_or_not_the_scan_runs(text: str, outcome: str | None) -> None:
    if outcome is None:
        assert json_parse(text, max_depth=4) is not None
        return
    with pytest.raises(JsonRefused) as refused:
        json_parse(text, max_depth=4)
    assert refused.value.reason == outcome
