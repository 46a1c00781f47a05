"""Every JSON text the project reads goes through the one bounded parser.

The parse sites are found, not listed: the syntax tree of every module is searched for the
calls that parse JSON (the standard library's, other JSON libraries', a JOSE library's token
decoding, DRF's stock parser, a ``requests`` response's ``.json()``), and any outside
``payments_site/kernel/jsontext.py`` fails here. A new parse site cannot slip in unbounded.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.settings import api_settings

from payments_site.parsers import BoundedJSONParser

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("payments_site", "checkout", "vault", "monitoring")
THE_PARSER = Path("payments_site/kernel/jsontext.py")

JSON_MODULES = frozenset({"json", "simplejson", "ujson", "orjson", "rapidjson", "demjson3"})
PARSE_NAMES = frozenset({"loads", "load", "JSONDecoder", "raw_decode", "decode"})
# JOSE decoders parse their segments with the standard library, unbounded.
JOSE_CALLS = frozenset(
    {
        ("jwt", "decode"),
        ("jwt", "decode_complete"),
        ("jwt", "get_unverified_header"),
        ("jws", "deserialize"),
        ("jwe", "deserialize"),
        ("jwt", "JWT"),
        ("jwt", "PyJWT"),
        ("jwt", "PyJWS"),
    }
)
JOSE_METHODS = frozenset({"deserialize", "decode_complete", "get_unverified_header"})
# Django's signed values are JSON; ``signing.loads`` checks the HMAC (our SECRET_KEY) before
# it parses, so only text this server made reaches the parser. Each such use types its payload.
SIGNED_BY_US = {Path("monitoring/security/mfa.py"): "signing.loads"}


def parse_sites(source: str) -> list[str]:
    """Every call in ``source`` that parses JSON by itself, as ``line: what``."""
    tree = ast.parse(source)
    json_aliases: set[str] = set()
    imported_parsers: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in JSON_MODULES:
                    json_aliases.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            for alias in node.names:
                if root in JSON_MODULES and alias.name in PARSE_NAMES:
                    imported_parsers.add(alias.asname or alias.name)
                if node.module == "rest_framework.parsers" and alias.name == "JSONParser":
                    found.append(f"{node.lineno}: rest_framework.parsers.JSONParser")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value == "rest_framework.parsers.JSONParser":
            found.append(f"{node.lineno}: rest_framework.parsers.JSONParser")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in imported_parsers:
            found.append(f"{node.lineno}: {func.id}()")
        elif isinstance(func, ast.Attribute):
            owner = func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else ""
            parses_json = owner_name in json_aliases and func.attr in PARSE_NAMES
            decodes_jose = (owner_name, func.attr) in JOSE_CALLS or func.attr in JOSE_METHODS
            if parses_json or decodes_jose:
                found.append(f"{node.lineno}: {owner_name}.{func.attr}()")
            elif owner_name == "signing" and func.attr == "loads":
                found.append(f"{node.lineno}: signing.loads()")
            elif func.attr == "json" and not node.args and not node.keywords:
                found.append(f"{node.lineno}: .json()")
    return sorted(set(found), key=lambda entry: int(entry.split(":")[0]))


def _modules() -> list[Path]:
    return sorted(
        path.relative_to(ROOT) for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    )


def test_no_module_parses_json_except_the_bounded_parser() -> None:
    offenders = {}
    for path in _modules():
        if path == THE_PARSER:
            continue
        sites = parse_sites((ROOT / path).read_text(encoding="utf-8"))
        allowed = SIGNED_BY_US.get(path)
        sites = [site for site in sites if not (allowed and site.endswith(f"{allowed}()"))]
        if sites:
            offenders[str(path)] = sites
    assert offenders == {}


def test_the_bounded_parser_is_where_json_is_parsed() -> None:
    assert parse_sites((ROOT / THE_PARSER).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "source",
    [
        "import json\njson.loads(x)",
        "import json as j\nj.load(f)",
        "from json import loads\nloads(x)",
        "from json import loads as parse\nparse(x)",
        "import orjson\norjson.loads(x)",
        "import json\njson.JSONDecoder().decode(x)",
        "import jwt\njwt.decode(t, key)",
        "import jwt\njwt.get_unverified_header(t)",
        "from jwcrypto import jwe\njwe.JWE().deserialize(t)",
        "response.json()",
        "from django.core import signing\nsigning.loads(t)",
        "from rest_framework.parsers import JSONParser",
        "PARSERS = ['rest_framework.parsers.JSONParser']",
    ],
)
def test_the_search_finds_each_kind_of_parse_site(source: str) -> None:
    assert parse_sites(source)


def test_json_dumps_is_no_parse_site() -> None:
    assert parse_sites("import json\njson.dumps(x)\nrequest.data.get('json')") == []


def _drf_views() -> list[Any]:
    views: list[Any] = []

    def walk(patterns: list[URLPattern | URLResolver]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
                continue
            cls = getattr(pattern.callback, "cls", None)
            if cls is not None:
                views.append(cls)

    walk(get_resolver().url_patterns)
    return views


def test_every_api_view_parses_json_bodies_through_the_bounded_parser() -> None:
    views = _drf_views()
    assert len(views) > 5
    defaults: list[Any] = list(api_settings.DEFAULT_PARSER_CLASSES)
    assert all(issubclass(p, BoundedJSONParser) for p in defaults)
    unbounded = {
        view.__qualname__: parser.__name__
        for view in views
        for parser in view.parser_classes
        if "json" in parser.media_type and not issubclass(parser, BoundedJSONParser)
    }
    assert unbounded == {}
