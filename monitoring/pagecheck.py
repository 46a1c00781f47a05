"""Payment-page script integrity (PCI DSS 6.4.3, 11.6.1).

The hosted payment page may load only the scripts listed in an inventory, each with its
Subresource Integrity hash and a reason, and must keep its security headers. ``page_check``
fetches the live page like a browser would, and reports every script that is not listed,
whose ``integrity`` attribute differs, or whose served bytes no longer match the hash; every
inline script whose content is not listed; and every listed header that is missing or changed.
``page_inventory_record`` writes a first inventory from a page for a person to review.

Inventory (JSON, ``settings.PAYMENT_PAGE_INVENTORY``; the checkout app owns the file):

    {"scripts": [{"src": "/static/checkout/pay.js", "integrity": "sha384-…",
                  "justification": "encrypts the card in the browser"}],
     "inline_scripts": [{"sha256": "…base64…", "justification": "…"}],
     "headers": {"Content-Security-Policy": "default-src 'none'; script-src 'self' 'nonce-*'",
                 "X-Frame-Options": "DENY"}}

CSP nonces change on every response, so ``'nonce-…'`` compares as ``'nonce-*'``, and directive
order does not matter. Header names compare case-insensitively.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

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


def normalise_header(name: str, value: str) -> Any:
    """A comparable form: CSP as {directive: sorted sources} with nonces blanked."""
    value = " ".join(value.split())
    if name.lower() not in ("content-security-policy", "content-security-policy-report-only"):
        return value
    policy: dict[str, list[str]] = {}
    for directive in value.split(";"):
        parts = directive.split()
        if parts:
            policy[parts[0].lower()] = sorted(_NONCE.sub("'nonce-*'", p) for p in parts[1:])
    return policy


@dataclass
class ScriptTag:
    src: str | None
    integrity: str | None
    crossorigin: str | None
    inline: str = ""


class _ScriptParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[ScriptTag] = []
        self._inline: ScriptTag | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "script":
            return
        a = dict(attrs)
        script = ScriptTag(
            src=a.get("src"), integrity=a.get("integrity"), crossorigin=a.get("crossorigin")
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


def inventory_load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("scripts", []), list):
        raise ValueError("inventory must be a JSON object with a 'scripts' list")
    for entry in data.get("scripts", []):
        algorithm = str(entry.get("integrity", "")).split("-", 1)[0]
        if not entry.get("src") or algorithm not in SRI_ALGORITHMS:
            raise ValueError(
                f"inventory script needs 'src' and an sha256/384/512 integrity: {entry}"
            )
    return data


def _fetch(
    session: requests.Session, url: str, timeout: float, verify: bool | str
) -> requests.Response:
    # ``verify`` per request: a session-level value loses to REQUESTS_CA_BUNDLE.
    return session.get(url, timeout=timeout, allow_redirects=False, verify=verify)


def page_check(
    *, url: str, inventory: dict[str, Any], verify: bool | str = True, timeout: float = 10
) -> PageReport:
    """Fetch ``url`` and every script it loads; compare all of it with ``inventory``."""
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
        elif normalise_header(name, actual) != normalise_header(name, expected):
            report.findings.append(f"header {name} changed: {actual!r}")

    listed = {urljoin(url, s["src"]): s for s in inventory.get("scripts", [])}
    inline_ok = {s["sha256"] for s in inventory.get("inline_scripts", [])}
    seen: set[str] = set()
    page_origin = urlsplit(url)[:2]
    for tag in page_scripts(page.text):
        if tag.src is None:
            digest = inline_hash(tag.inline)
            if digest not in inline_ok:
                report.findings.append(f"inline script not in the inventory (sha256 {digest})")
            continue
        absolute = urljoin(url, tag.src)
        seen.add(absolute)
        entry = listed.get(absolute)
        if entry is None:
            report.findings.append(f"script not in the inventory: {absolute}")
            continue
        if tag.integrity != entry["integrity"]:
            report.findings.append(
                f"script {absolute}: integrity attribute {tag.integrity!r}, "
                f"inventory has {entry['integrity']!r}"
            )
        if urlsplit(absolute)[:2] != page_origin and tag.crossorigin is None:
            report.findings.append(f"script {absolute}: cross-origin without crossorigin=")
        body = _fetch(session, absolute, timeout, verify)
        report.checked_scripts += 1
        if body.status_code != 200:
            report.findings.append(f"script {absolute}: HTTP {body.status_code}")
            continue
        algorithm = entry["integrity"].split("-", 1)[0]
        served = sri_hash(body.content, algorithm)
        if served != entry["integrity"]:
            report.findings.append(f"script {absolute}: content changed (now {served})")
    for absolute in sorted(set(listed) - seen):
        report.notes.append(f"listed script not on the page: {absolute}")
    return report


def page_inventory_record(
    *, url: str, verify: bool | str = True, timeout: float = 10
) -> dict[str, Any]:
    """A first inventory from the live page; every entry still needs a justification."""
    session = requests.Session()
    page = _fetch(session, url, timeout, verify)
    page.raise_for_status()
    scripts, inline = [], []
    for tag in page_scripts(page.text):
        if tag.src is None:
            inline.append({"sha256": inline_hash(tag.inline), "justification": "TODO"})
            continue
        body = _fetch(session, urljoin(url, tag.src), timeout, verify)
        body.raise_for_status()
        scripts.append(
            {"src": tag.src, "integrity": sri_hash(body.content), "justification": "TODO"}
        )
    headers = {
        name: _NONCE.sub("'nonce-*'", page.headers[name])
        for name in DEFAULT_HEADERS
        if name in page.headers
    }
    return {"scripts": scripts, "inline_scripts": inline, "headers": headers}
