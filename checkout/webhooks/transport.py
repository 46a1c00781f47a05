"""One webhook POST to an address that was vetted beforehand, and nowhere else.

Why not ``requests``: it resolves the host name itself when it connects, after our check, so
a DNS answer that changes in between (rebinding) would send the request to an address nobody
vetted; it follows redirects unless told not to on every call; and bounding the whole request
(not each socket read) and the response size needs as much code around it as this does.

``post_pinned`` uses ``http.client`` with connection classes whose ``connect`` opens a TCP
connection to the given IP address, while the ``Host`` header, TLS SNI and certificate check
use the URL's host name. Nothing here resolves a name. Redirects are never followed (a 3xx is
a failed attempt), the whole exchange is bounded by one deadline (a watchdog shuts the socket
down, so a receiver trickling bytes cannot hold a worker), and at most ``max_response_bytes``
of the answer are read.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from monitoring.observability.redaction import redact_text

from .addresses import IPAddress, WebhookUrl

USER_AGENT = "Tessera-Webhooks/1.0"
EXCERPT_CHARS = 500


@dataclass(frozen=True)
class HttpOutcome:
    """What one POST came to. ``error`` is "" for a 2xx answer."""

    status: int | None
    latency_ms: int
    error: str
    error_detail: str = ""
    excerpt: str = ""
    remote_address: str = ""
    # The answer's first ``max_response_bytes`` (``truncated``: it had more) and its type.
    data: bytes = b""
    truncated: bool = False
    content_type: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def _connect(address: IPAddress, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((str(address), port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._deadline = timeout

    def connect(self) -> None:
        self.sock = _connect(self._address, self.port, self._deadline)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(
        self,
        host: str,
        port: int,
        *,
        address: IPAddress,
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._deadline = timeout
        self._tls = context

    def connect(self) -> None:
        sock = _connect(self._address, self.port, self._deadline)
        self.sock = sock  # reachable by the watchdog during the handshake too
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


@functools.lru_cache(maxsize=4)
def tls_context(cafile: str | None) -> ssl.SSLContext:
    """Certificate and host name checked; TLS 1.2 or later. ``cafile`` replaces the system
    trust store (``WEBHOOK_CA_BUNDLE``; tests trust their own receiver's CA this way)."""
    context = ssl.create_default_context(cafile=cafile or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _detail(exc: BaseException) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}")[:300]


def post_pinned(
    *,
    url: WebhookUrl,
    address: IPAddress,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    max_response_bytes: int,
    cafile: str | None = None,
) -> HttpOutcome:
    """POST ``body`` to ``url`` through a connection to ``address`` only (``request_pinned``)."""
    return request_pinned(
        method="POST",
        url=url,
        address=address,
        body=body,
        headers=headers,
        timeout=timeout,
        max_response_bytes=max_response_bytes,
        cafile=cafile,
    )


def request_pinned(
    *,
    method: str,
    url: WebhookUrl,
    address: IPAddress,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    max_response_bytes: int,
    cafile: str | None = None,
) -> HttpOutcome:
    """Send ``method`` with ``body`` to ``url`` through a connection to ``address`` only.
    Never raises for network trouble: every failure is an outcome with an error code."""
    started = time.monotonic()
    connection: http.client.HTTPConnection
    if url.scheme == "https":
        connection = _PinnedHTTPSConnection(
            url.host, url.port, address=address, timeout=timeout, context=tls_context(cafile)
        )
    else:
        connection = _PinnedHTTPConnection(url.host, url.port, address=address, timeout=timeout)
    expired = threading.Event()

    def watchdog() -> None:
        expired.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(timeout, watchdog)
    timer.daemon = True
    timer.start()

    def outcome(
        error: str,
        detail: str = "",
        status: int | None = None,
        excerpt: str = "",
        data: bytes = b"",
        truncated: bool = False,
        content_type: str = "",
    ) -> HttpOutcome:
        return HttpOutcome(
            status=status,
            latency_ms=round((time.monotonic() - started) * 1000),
            error="timeout" if expired.is_set() and error not in ("", "http_status") else error,
            error_detail=detail,
            excerpt=excerpt,
            remote_address=str(address),
            data=data,
            truncated=truncated,
            content_type=content_type,
        )

    try:
        request_headers = {
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "*/*",
            "Connection": "close",
            **headers,
        }
        connection.request(method, url.target, body=body, headers=request_headers)
        response = connection.getresponse()
        data = response.read(max_response_bytes + 1)
        truncated = len(data) > max_response_bytes
        data = data[:max_response_bytes]
        excerpt = redact_text(data[:EXCERPT_CHARS].decode("utf-8", "replace"))[:EXCERPT_CHARS]
        content_type = str(response.getheader("Content-Type", ""))[:200]
        error, detail = "", ""
        if not 200 <= response.status < 300:
            error, detail = "http_status", f"HTTP {response.status} {response.reason}"[:300]
        return outcome(
            error,
            detail,
            status=response.status,
            excerpt=excerpt,
            data=data,
            truncated=truncated,
            content_type=content_type,
        )
    except TimeoutError as exc:
        return outcome("timeout", _detail(exc))
    except ssl.SSLCertVerificationError as exc:
        return outcome("tls_certificate_invalid", _detail(exc))
    except ssl.SSLError as exc:
        return outcome("tls_error", _detail(exc))
    except ConnectionRefusedError as exc:
        return outcome("connection_refused", _detail(exc))
    except http.client.HTTPException as exc:
        return outcome("invalid_response", _detail(exc))
    except OSError as exc:
        return outcome("connection_failed", _detail(exc))
    finally:
        timer.cancel()
        connection.close()


__all__ = ["HttpOutcome", "post_pinned", "request_pinned", "tls_context"]
