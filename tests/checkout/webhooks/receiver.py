"""Merchant-side stand-ins the tests start themselves on 127.0.0.1.

``Receiver`` is what a merchant's webhook handler does: it checks ``Tessera-Signature`` with
the shipped ``verify_signature`` against the secrets it knows (answering 400 when none
verifies), then answers what its script says (default 200) and keeps every request. It can
serve plain HTTP or TLS with a certificate of the tests' own CA, and records the TLS SNI.
``silent_listener`` accepts TCP connections and never answers.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from checkout.webhooks.signature import SignatureVerificationError, verify_signature


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    # Which of the receiver's secrets verified the signature (indexes into ``secrets``).
    verified_by: list[int]
    sni: str | None = None


@dataclass
class Receiver:
    url: str
    secrets: list[str] = field(default_factory=list)
    script: list[Any] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    requests: list[Received] = field(default_factory=list)
    # A handler may block on this (script item "block") until the test sets it.
    release: threading.Event = field(default_factory=threading.Event)
    sni_seen: list[str | None] = field(default_factory=list)
    # Events (by id) this receiver answers 500 for, whatever the script says.
    failing_events: set[str] = field(default_factory=set)
    # Requests that reached the handler (counted before any "block").
    arrived: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, body: bytes, header: str | None) -> list[int]:
        verified = []
        for index, secret in enumerate(self.secrets):
            try:
                verify_signature(body, header, secret, now=self.clock())
            except SignatureVerificationError:
                continue
            verified.append(index)
        return verified

    def accepted(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            with receiver.lock:
                receiver.arrived += 1
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k: v for k, v in self.headers.items()}
            verified = receiver.verify(body, self.headers.get("Tessera-Signature"))
            with receiver.lock:
                action = receiver.script.pop(0) if receiver.script else 200
            if action == "block":
                receiver.release.wait(30)
                action = 200
            if isinstance(action, tuple) and action[0] == "redirect":
                status = 302
                extra = {"Location": action[1]}
            elif action == "endless":
                status, extra = 200, {}
            else:
                status, extra = int(action), {}
            try:
                event_id = json.loads(body).get("id")
            except ValueError:
                event_id = None
            if event_id in receiver.failing_events:
                status, extra = 500, {}
            if not verified:
                status, extra = 400, {}
            sni = getattr(self.connection, "tessera_sni", None)
            with receiver.lock:
                receiver.requests.append(
                    Received(self.path, headers, body, status, verified, sni=sni)
                )
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            if action == "endless" and status == 200:
                self.send_header("Content-Type", "text/plain")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"x" * 16384
                try:
                    for _ in range(100_000):  # 1.6 GB if anyone read it all
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except OSError:
                    pass  # the client stopped reading and closed: what we expect
                self.close_connection = True
                return
            answer = b'{"received": true}' if 200 <= status < 300 else b'{"error": "nope"}'
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Handler


@contextmanager
def receiver_server(
    *, tls: tuple[str, str] | None = None, host_name: str = "127.0.0.1"
) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 (a free port). ``tls=(certfile, keyfile)`` serves HTTPS; the
    URL then names ``host_name`` (which the test's DNS must map to 127.0.0.1)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    port = server.server_address[1]
    scheme = "https" if tls else "http"
    receiver = Receiver(url=f"{scheme}://{host_name}:{port}/hooks")
    server.RequestHandlerClass = _handler(receiver)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)

        def remember_sni(sslsock: Any, name: str | None, _ctx: Any) -> None:
            sslsock.tessera_sni = name
            receiver.sni_seen.append(name)

        context.sni_callback = remember_sni
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def silent_listener() -> Iterator[str]:
    """A TCP port that accepts connections (kernel backlog) and never answers a byte."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"
    finally:
        sock.close()
