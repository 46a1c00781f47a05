"""Payment-page script integrity (PCI DSS 6.4.3, 11.6.1).

The hosted payment page may load only the scripts listed in an inventory, each with its
Subresource Integrity hash and a reason, and must keep its security headers. ``page_check``
fetches the live page like a browser would and reports every script that is not listed, whose
``integrity`` attribute differs or is missing, or whose served bytes no longer match the hash;
every inline script whose content is not listed; every module import that the page does not
preload with integrity (``<script type="module" integrity>`` covers the entry module only: an
import the page does not list as ``<link rel="modulepreload" integrity>`` would run unchecked);
and every listed header that is missing or changed. ``page_inventory_record`` writes an
inventory from a page for a person to review (keeping the justifications of an older one).

Inventory (JSON, ``settings.PAYMENT_PAGE_INVENTORY``; the checkout app owns the file):

    {"scripts": [{"name": "checkout/checkout.js", "load": "module", "integrity": "sha384-…",
                  "justification": "runs the card form"}],
     "inline_scripts": [{"sha256": "…base64…", "justification": "…"}],
     "headers": {"Content-Security-Policy": "default-src 'none'; script-src 'self'",
                 "X-Frame-Options": "DENY"}}

A script is named by its logical static name (``name``: the path under ``STATIC_URL`` with any
``ManifestStaticFilesStorage`` content hash taken out of the file name), so the inventory stays
valid when a deploy re-hashes file names; its ``integrity`` is the SRI of the content, so it
changes exactly when the code does — and then the check fails until someone reviews the new
code and records it again. Scripts outside static files are named by ``src`` (the URL path).
``load`` is how the page loads it: ``script``, ``module`` or ``modulepreload``.

Data blocks (``<script type="application/json">``) are not code and are not inventoried.
CSP nonces change on every response, so ``'nonce-…'`` compares as ``'nonce-*'``, and directive
order does not matter; ``{merchant-origin}`` in the inventory's CSP stands for the one
merchant origin the page adds to ``form-action`` (its success URL's). Header names compare
case-insensitively.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from payments_site.kernel.jsontext import json_parse

SRI_ALGORITHMS = ("sha256", "sha384", "sha512")
DEFAULT_HEADERS = (
    "Content-Security-Policy",
    "Strict-Transport-Security",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
)
_NONCE = re.compile(r"'nonce-[^']*'")


def sri_hash(content: bytes, algorithm: str = "sha384") -> str:
    """The ``integrity`` value for ``content`` (``sha384-…``), for templates and inventories."""
    if algorithm not in SRI_ALGORITHMS:
        raise ValueError(f"Unsupported SRI algorithm: {algorithm}")
    digest = hashlib.new(algorithm, content).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode('ascii')}"


def inline_hash(content: str) -> str:
    """SHA-256 (base64) of an inline script's text, as CSP's ``'sha256-…'`` would hash it."""
    return base64.b64encode(hashlib.sha256(content.encode("utf-8")).digest()).decode("ascii")


MERCHANT_ORIGIN = "{merchant-origin}"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_CSP_HEADERS = ("content-security-policy", "content-security-policy-report-only")


def normalise_header(name: str, value: str) -> Any:
    """A comparable form: CSP as {directive: sorted sources} with nonces blanked."""
    value = " ".join(value.split())
    if name.lower() not in _CSP_HEADERS:
        return value
    policy: dict[str, list[str]] = {}
    for directive in value.split(";"):
        parts = directive.split()
        if parts:
            policy[parts[0].lower()] = sorted(_NONCE.sub("'nonce-*'", p) for p in parts[1:])
    return policy


def header_matches(name: str, actual: str, expected: str) -> bool:
    """``actual`` (from the page) against ``expected`` (from the inventory). In a CSP, each
    ``{merchant-origin}`` of the inventory takes exactly one origin of the page's directive."""
    got, want = normalise_header(name, actual), normalise_header(name, expected)
    if not isinstance(want, dict) or not isinstance(got, dict):
        return bool(got == want)
    if set(got) != set(want):
        return False
    for directive, sources in want.items():
        remaining = list(got[directive])
        for source in sources:
            if source == MERCHANT_ORIGIN:
                origin = next((s for s in remaining if _ORIGIN.match(s)), None)
                if origin is None:
                    return False
                remaining.remove(origin)
            elif source in remaining:
                remaining.remove(source)
            else:
                return False
        if remaining:
            return False
    return True


# Script types a browser executes; any other type is a data block (RFC: the HTML standard's
# "JavaScript MIME type essence match", plus "module").
_JS_TYPES = frozenset(
    {"", "module", "text/javascript", "application/javascript", "application/ecmascript",
     "text/ecmascript", "application/x-javascript", "text/jscript", "text/livescript"}
)  # fmt: skip


@dataclass
class ScriptTag:
    """A script the page loads: ``load`` is ``script`` (classic), ``module``,
    ``modulepreload`` (a ``<link>``), or ``data`` (a data block, never run)."""

    src: str | None
    integrity: str | None
    crossorigin: str | None
    inline: str = ""
    load: str = "script"


class _ScriptParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[ScriptTag] = []
        self._inline: ScriptTag | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "link":
            rel = (a.get("rel") or "").lower().split()
            if "modulepreload" in rel or ("preload" in rel and a.get("as") == "script"):
                self.scripts.append(
                    ScriptTag(
                        src=a.get("href"),
                        integrity=a.get("integrity"),
                        crossorigin=a.get("crossorigin"),
                        load="modulepreload",
                    )
                )
            return
        if tag != "script":
            return
        kind = (a.get("type") or "").strip().lower()
        load = "module" if kind == "module" else "script" if kind in _JS_TYPES else "data"
        script = ScriptTag(
            src=a.get("src"),
            integrity=a.get("integrity"),
            crossorigin=a.get("crossorigin"),
            load=load,
        )
        self.scripts.append(script)
        self._inline = script if script.src is None else None

    def handle_data(self, data: str) -> None:
        if self._inline is not None:
            self._inline.inline += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inline = None


def page_scripts(html: str) -> list[ScriptTag]:
    parser = _ScriptParser()
    parser.feed(html)
    parser.close()
    return parser.scripts


# ``import … from "x"``, ``import "x"``, ``export … from "x"`` and ``import("x")``: what an ES
# module may load. Comments are not stripped: a commented-out import is reported too, which
# errs on the side of review.
_IMPORT = re.compile(
    r"""(?:\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?|\bexport\s*[\w*{}\s,$]*\s*from\s*"""
    r"""|\bimport\s*\(\s*)(["'])([^"'\n]+)\1"""
)


def module_imports(source: str) -> list[str]:
    """The specifiers an ES module imports, statically or dynamically, in order."""
    return [m.group(2) for m in _IMPORT.finditer(source)]


_MANIFEST_HASH = re.compile(r"^(?P<stem>.+)\.[0-9a-f]{12}(?P<ext>\.[A-Za-z0-9]+)$")


def logical_name(url: str, *, static_url: str) -> str | None:
    """``/static/checkout/checkout.1a2b3c4d5e6f.js`` → ``checkout/checkout.js``: the name a
    static file keeps across deploys. None for a URL outside ``static_url``."""
    path = urlsplit(url).path
    prefix = urlsplit(static_url).path
    if not prefix.endswith("/"):
        prefix += "/"
    if not path.startswith(prefix):
        return None
    name = path[len(prefix) :]
    folder, _, filename = name.rpartition("/")
    match = _MANIFEST_HASH.match(filename)
    if match:
        filename = match.group("stem") + match.group("ext")
    return f"{folder}/{filename}" if folder else filename


@dataclass
class PageReport:
    url: str
    findings: list[str] = field(default_factory=list)
    checked_scripts: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "findings": self.findings,
            "notes": self.notes,
            "checked_scripts": self.checked_scripts,
        }


LOADS = ("script", "module", "modulepreload")


def inventory_load(path: Path) -> dict[str, Any]:
    data = json_parse(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("scripts", []), list):
        raise ValueError("inventory must be a JSON object with a 'scripts' list")
    for entry in data.get("scripts", []):
        algorithm = str(entry.get("integrity", "")).split("-", 1)[0]
        if not (entry.get("src") or entry.get("name")) or algorithm not in SRI_ALGORITHMS:
            raise ValueError(
                f"inventory script needs 'name' or 'src' and an sha256/384/512 integrity: {entry}"
            )
        if entry.get("load", "script") not in LOADS:
            raise ValueError(f"inventory script 'load' must be one of {', '.join(LOADS)}: {entry}")
        if str(entry.get("justification") or "").strip() in ("", "TODO"):
            raise ValueError(f"inventory script needs a justification (PCI DSS 6.4.3): {entry}")
    return data


def _fetch(
    session: requests.Session, url: str, timeout: float, verify: bool | str
) -> requests.Response:
    # ``verify`` per request: a session-level value loses to REQUESTS_CA_BUNDLE.
    return session.get(url, timeout=timeout, allow_redirects=False, verify=verify)


def _static_url_default() -> str:
    try:
        return str(settings.STATIC_URL or "/static/")
    except Exception:  # pragma: no cover - outside Django
        return "/static/"


def _entry_for(
    absolute: str, *, page_url: str, static_url: str, inventory: dict[str, Any]
) -> tuple[str, dict[str, Any] | None]:
    """The inventory entry for a script URL, and the name it is reported under."""
    static = urljoin(page_url, static_url)
    name = logical_name(absolute, static_url=static) if absolute.startswith(static) else None
    for entry in inventory.get("scripts", []):
        if name is not None and entry.get("name") == name:
            return name, entry
        if entry.get("src") and urljoin(page_url, entry["src"]) == absolute:
            return absolute, entry
    return name or absolute, None


def page_check(
    *,
    url: str,
    inventory: dict[str, Any],
    verify: bool | str = True,
    timeout: float = 10,
    static_url: str | None = None,
) -> PageReport:
    """Fetch ``url`` and every script it loads; compare all of it with ``inventory``."""
    static_url = static_url or _static_url_default()
    report = PageReport(url=url)
    session = requests.Session()
    session.headers["User-Agent"] = "tessera-check-payment-page/1"
    page = _fetch(session, url, timeout, verify)
    if page.status_code != 200:
        report.findings.append(f"page answered HTTP {page.status_code}, expected 200")
        return report

    for name, expected in inventory.get("headers", {}).items():
        actual = page.headers.get(name)
        if actual is None:
            report.findings.append(f"header {name} is missing")
        elif not header_matches(name, actual, expected):
            report.findings.append(f"header {name} changed: {actual!r}")

    inline_ok = {s["sha256"] for s in inventory.get("inline_scripts", [])}
    seen: set[int] = set()
    preloaded: set[str] = set()  # modules the browser fetches with an integrity check
    modules: list[tuple[str, bytes]] = []
    page_origin = urlsplit(url)[:2]
    for tag in page_scripts(page.text):
        if tag.load == "data":
            continue  # a data block: the browser never runs it
        if tag.src is None:
            digest = inline_hash(tag.inline)
            if digest not in inline_ok:
                report.findings.append(f"inline script not in the inventory (sha256 {digest})")
            continue
        absolute = urljoin(url, tag.src)
        label, entry = _entry_for(
            absolute, page_url=url, static_url=static_url, inventory=inventory
        )
        if entry is None:
            report.findings.append(f"script not in the inventory: {absolute}")
            continue
        seen.add(id(entry))
        if entry.get("load", "script") != tag.load:
            report.findings.append(
                f"script {label}: loaded as {tag.load}, inventory has {entry.get('load', 'script')}"
            )
        if tag.integrity != entry["integrity"]:
            report.findings.append(
                f"script {label}: integrity attribute {tag.integrity!r}, "
                f"inventory has {entry['integrity']!r}"
            )
        elif tag.load in ("module", "modulepreload"):
            preloaded.add(absolute)
        if urlsplit(absolute)[:2] != page_origin and tag.crossorigin is None:
            report.findings.append(f"script {label}: cross-origin without crossorigin=")
        body = _fetch(session, absolute, timeout, verify)
        report.checked_scripts += 1
        if body.status_code != 200:
            report.findings.append(f"script {label}: HTTP {body.status_code}")
            continue
        algorithm = entry["integrity"].split("-", 1)[0]
        served = sri_hash(body.content, algorithm)
        if served != entry["integrity"]:
            report.findings.append(f"script {label}: content changed (now {served})")
        if tag.load in ("module", "modulepreload"):
            modules.append((absolute, body.content))

    for module_url, content in modules:
        for specifier in module_imports(content.decode("utf-8", "replace")):
            if not specifier.startswith(("./", "../", "/")):
                report.findings.append(f"module {module_url} imports {specifier!r} (not a URL)")
                continue
            target = urljoin(module_url, specifier)
            if target not in preloaded:
                report.findings.append(
                    f"module {module_url} imports {target}, which the page does not preload "
                    "with a checked integrity"
                )
    listed = inventory.get("scripts", [])
    for entry in listed:
        if id(entry) not in seen:
            report.notes.append(
                f"listed script not on the page: {entry.get('name') or entry.get('src')}"
            )
    return report


def page_inventory_record(
    *,
    url: str,
    verify: bool | str = True,
    timeout: float = 10,
    static_url: str | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An inventory from the live page. Justifications come from ``previous`` (the inventory
    being replaced) for scripts it already listed; a new script gets "TODO", which
    ``inventory_load`` refuses until a person writes why the page needs it."""
    static_url = static_url or _static_url_default()
    reasons = {
        e.get("name") or e.get("src"): e.get("justification", "TODO")
        for e in (previous or {}).get("scripts", [])
    }
    inline_reasons = {
        e["sha256"]: e.get("justification", "TODO")
        for e in (previous or {}).get("inline_scripts", [])
    }
    session = requests.Session()
    page = _fetch(session, url, timeout, verify)
    page.raise_for_status()
    static = urljoin(url, static_url)
    scripts, inline = [], []
    for tag in page_scripts(page.text):
        if tag.load == "data":
            continue
        if tag.src is None:
            digest = inline_hash(tag.inline)
            inline.append({"sha256": digest, "justification": inline_reasons.get(digest, "TODO")})
            continue
        absolute = urljoin(url, tag.src)
        body = _fetch(session, absolute, timeout, verify)
        body.raise_for_status()
        name = logical_name(absolute, static_url=static) if absolute.startswith(static) else None
        key = name or tag.src
        entry: dict[str, Any] = {"name": name} if name else {"src": tag.src}
        entry.update(
            {
                "load": tag.load,
                "integrity": sri_hash(body.content),
                "justification": reasons.get(key, "TODO"),
            }
        )
        scripts.append(entry)
    page_origin = "{}://{}".format(*urlsplit(url)[:2])
    headers = {}
    for name in DEFAULT_HEADERS:
        if name in page.headers:
            value = _NONCE.sub("'nonce-*'", page.headers[name])
            if name.lower() in _CSP_HEADERS:
                value = _canonical_csp(_merchant_origin_placeholder(value, page_origin))
            headers[name] = value
    return {"scripts": scripts, "inline_scripts": inline, "headers": headers}


def _canonical_csp(csp: str) -> str:
    """Directives sorted by name, sources sorted: one spelling per policy, so recording the
    same page twice writes the same inventory."""
    policy = normalise_header("Content-Security-Policy", csp)
    return "; ".join(" ".join([name, *policy[name]]) for name in sorted(policy))


def _merchant_origin_placeholder(csp: str, page_origin: str) -> str:
    """``form-action 'self' https://shop.example`` → ``form-action 'self' {merchant-origin}``:
    the page allows its own merchant's success origin, which differs per session."""
    directives = []
    for directive in csp.split(";"):
        parts = directive.split()
        if parts and parts[0].lower() == "form-action":
            parts = [parts[0]] + [
                MERCHANT_ORIGIN if _ORIGIN.match(p) and p != page_origin else p for p in parts[1:]
            ]
        directives.append(" ".join(parts))
    return "; ".join(d for d in directives if d)
