"""Real-browser support: Debian's Chromium driven by Playwright, a stand-in merchant shop over
HTTPS, and a recorder of every request a page sends.

The browser is the distribution's package (installed with apt when missing), never a
downloaded build: ``playwright install`` is not used anywhere.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from tests.support.servers import ROOT, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts" / "checkout"


def ensure_chromium() -> Path:
    """Debian's chromium package, installed with apt on first use (CI and fresh machines)."""
    if not CHROMIUM.exists():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise RuntimeError("Chromium is missing: install it with `apt-get install chromium`")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, timeout=900
        )
    return CHROMIUM


# --- the merchant's shop: where success_url and cancel_url lead --------------------------------


@dataclass
class Shop:
    url: str
    visits: list[str] = field(default_factory=list)


class _ShopHandler(BaseHTTPRequestHandler):
    visits: list[str]

    def do_GET(self) -> None:
        self.visits.append(self.path)
        query = parse_qs(urlsplit(self.path).query)
        session = query.get("session_id", [""])[0]
        if self.path.startswith("/success"):
            title, text = "Thank you!", f"Your order is paid. Reference {session[:40]}."
        else:
            title, text = "Your cart", "Nothing was charged."
        body = (
            "<!doctype html><html lang=en><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width'>"
            f"<title>{title}</title><body style='font:18px system-ui;margin:2rem'>"
            f"<h1 id=shop-title>{title}</h1><p id=shop-text>{text}</p></body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def shop_server(cert: tuple[Path, Path]) -> Iterator[Shop]:
    port = free_port()
    shop = Shop(url=f"https://localhost:{port}")
    handler = type("Handler", (_ShopHandler,), {"visits": shop.visits})
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield shop
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --- what the page sends ------------------------------------------------------------------------


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    body: str

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body, keep_blank_values=True)


def record_requests(page: Any) -> list[Sent]:
    sent: list[Sent] = []

    def on_request(request: Any) -> None:
        buffer = request.post_data_buffer
        body = buffer.decode("utf-8", "replace") if buffer else ""
        sent.append(Sent(request.method, request.url, dict(request.headers), body))

    page.on("request", on_request)
    return sent


_JWE_SEGMENT = r"[A-Za-z0-9_-]+"
# ECDH-ES direct key agreement: the encrypted-key segment is empty.
_COMPACT_JWE = re.compile(rf"{_JWE_SEGMENT}\.\.{_JWE_SEGMENT}(?:\.{_JWE_SEGMENT}){{2}}")


def jwe_header(card_jwe: str) -> dict[str, Any]:
    segment = card_jwe.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def assert_card_never_sent(sent: list[Sent], *, number: str, cvc: str) -> None:
    """No request carries the card number or CVC in any form: digits, spaced, dashed,
    URL-encoded, in the URL, a header or the body.

    A posted ``card_jwe`` must be a compact JWE with exactly the vault's header; its
    ciphertext is then masked before the CVC check, since a short digit run can turn up in
    any base64 text by chance. The number is checked on every digit of every request with all
    other characters removed, so no separator or encoding can hide it.
    """
    assert sent, "no request was recorded"
    for request in sent:
        text = "\n".join(
            [
                unquote_plus(request.url),
                *(f"{k}: {unquote_plus(v)}" for k, v in request.headers.items()),
                unquote_plus(request.body),
            ]
        )
        for card_jwe in request.form().get("card_jwe", []) if request.method == "POST" else []:
            assert _COMPACT_JWE.fullmatch(card_jwe), "card_jwe is not a compact JWE"
            assert set(jwe_header(card_jwe)) == {"alg", "enc", "kid", "epk", "apu", "apv"}
            assert number not in re.sub(r"\D", "", card_jwe)
            text = text.replace(card_jwe, "<jwe>")
        assert number not in re.sub(r"\D", "", text), f"card number sent to {request.url}"
        assert not re.search(rf"(?<![A-Za-z0-9]){cvc}(?![A-Za-z0-9])", text), (
            f"CVC sent to {request.url}"
        )
