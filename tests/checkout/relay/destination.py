"""A partner's HTTPS endpoint the tests start on 127.0.0.1: it keeps every request as it
arrived (method, path, headers, body) and answers what its script says — by default 201 with
the request's body echoed back, so the tests can see what the relay does with an answer that
holds a card number."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Arrived:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Destination:
    host: str
    port: int
    requests: list[Arrived] = field(default_factory=list)
    # Items: "echo" (201, the body back), ("redirect", url), ("status", n, body), "hang".
    script: list[Any] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"https://{self.host}:{self.port}{path}"


def _handler(destination: Destination) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with destination.lock:
                destination.requests.append(
                    Arrived(self.command, self.path, dict(self.headers.items()), body)
                )
                action = destination.script.pop(0) if destination.script else "echo"
            extra: dict[str, str] = {}
            if action == "hang":
                destination.release.wait(10)
                status, answer = 200, b"{}"
            elif isinstance(action, tuple) and action[0] == "redirect":
                status, answer, extra = 307, b"", {"Location": action[1]}
            elif isinstance(action, tuple) and action[0] == "status":
                status, answer = int(action[1]), action[2]
            else:
                status, answer = 201, b'{"received": ' + body + b"}"
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_POST = _serve
        do_PUT = _serve
        do_PATCH = _serve

    return Handler


@contextmanager
def destination_server(*, certfile: str, keyfile: str, host: str) -> Iterator[Destination]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    destination = Destination(host=host, port=server.server_address[1])
    server.RequestHandlerClass = _handler(destination)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield destination
    finally:
        destination.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
