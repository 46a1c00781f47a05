"""Bounded JSON: the one parser for every JSON text the project reads.

The standard library parses nesting by recursion, so a few kilobytes of ``[`` raise
``RecursionError`` (not a ``ValueError``), which no JSON guard catches: a 500 instead of a
refusal. Here the size is capped first, then the depth is measured by a flat scan that never
recurses, and only then does ``json.loads`` run, on text that cannot exhaust the stack.
Duplicate object members (two parsers may disagree about which one wins, RFC 8259 §4) and the
non-standard constants ``NaN`` / ``Infinity`` are refused as well.

Every refusal is a ``JsonRefused`` (a ``ValueError``) with a machine ``reason``; each caller
maps it to its own endpoint's 4xx. ``tests/test_json_parse_sites.py`` fails when any other
module parses JSON itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
MAX_BYTES = 1024 * 1024

# A complete string (skipped whole, so brackets inside it do not count) or one bracket.
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class JsonRefused(ValueError):
    """JSON that is not accepted: ``reason`` is ``too_large``, ``too_deep``,
    ``duplicate_member`` or ``malformed``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def json_depth(text: str) -> int:
    """How deeply ``text`` nests arrays and objects (``1`` → 0, ``[]`` → 1), without
    recursion. Brackets inside strings do not count; an unbalanced text counts as deep as it
    opens, so the bound holds for malformed input too."""
    depth = deepest = 0
    for match in _STRUCTURE.finditer(text):
        lexeme = match.group()
        if lexeme in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif lexeme in ("]", "}"):
            depth = max(depth - 1, 0)
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonRefused("duplicate_member", "A JSON object repeats a member.")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise JsonRefused("malformed", f"{name} is not JSON.")


def json_parse(
    data: bytes | bytearray | str,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """``data`` (UTF-8 bytes or text) as a Python value, or ``JsonRefused``.

    ``max_bytes`` bounds the encoded size and ``max_depth`` the nesting of arrays and objects.
    """
    if len(data) > max_bytes:
        raise JsonRefused("too_large", f"The JSON is larger than {max_bytes} bytes.")
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRefused("malformed", "The JSON is not UTF-8.") from exc
    else:
        text = data
        if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
            raise JsonRefused("too_large", f"The JSON is larger than {max_bytes} bytes.")
    # Every level opens a bracket, so a text with few brackets cannot be deep: the scan runs
    # only on texts that could be (small JOSE headers and claims never need it).
    brackets = text.count("[") + text.count("{")
    if brackets > max_depth and json_depth(text) > max_depth:
        raise JsonRefused("too_deep", f"The JSON nests deeper than {max_depth} levels.")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except JsonRefused:
        raise
    except (ValueError, RecursionError) as exc:
        # RecursionError cannot happen below the depth bound; caught so that it never could.
        raise JsonRefused("malformed", "The text is not valid JSON.") from exc


def json_object_parse(
    data: bytes | bytearray | str,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
) -> dict[str, Any]:
    """``json_parse`` that also requires a JSON object at the top."""
    value = json_parse(data, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(value, dict):
        raise JsonRefused("malformed", "The JSON is not an object.")
    return value
