"""Which webhook URLs and IP addresses Tessera may call (SSRF defence).

A merchant chooses the URL, so without these rules a webhook is a way to make our servers
send requests into our own network: the cloud metadata service (instance credentials), admin
ports on loopback, databases on private addresses. The rules:

1. ``webhook_url_validate``: an absolute ``https://`` URL (``http`` only where
   ``WEBHOOK_ALLOW_HTTP``, never in production), a host, no credentials, no control
   characters, at most 2000 characters.
2. ``target_resolve``: the host is resolved (or is an IP literal) and **every** address it
   resolves to must be public: not loopback, private (RFC 1918, unique local), link-local,
   multicast, reserved, unspecified, shared/CGNAT (100.64/10), documentation or benchmarking
   ranges, a cloud metadata address, nor an IPv6 form that embeds one of those (IPv4-mapped,
   IPv4-compatible, 6to4, NAT64). One bad address refuses the whole name: a DNS answer that
   mixes a public and a private address is an attack, not a misconfiguration.
3. It runs when an endpoint is saved **and** at every delivery, and the delivery then connects
   to exactly the address that was vetted (``transport.py``), so a DNS answer that changes
   between the check and the connection (DNS rebinding) cannot redirect the request.

``WEBHOOK_ADDRESS_ALLOWLIST`` (``"127.0.0.1"`` or ``"127.0.0.1:8080"``) lets tests deliver to
receivers they start themselves on loopback; production settings refuse to start with it set.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from payments_site.kernel.errors import DomainError, FieldError, InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2000
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f\\]")
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)

# Cloud instance metadata services (AWS/GCP/Azure/OpenStack, AWS over IPv6, ECS task metadata,
# Alibaba, Oracle). All already fall in a forbidden range below; named so the refusal says so.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "fd00:ec2::254",
        "169.254.170.2",
        "100.100.100.200",
        "192.0.0.192",
    )
)

# (network, reason). Python's is_private/is_global differ between versions, so the ranges are
# spelled out; ``not is_global`` stays as a catch-all after them.
_FORBIDDEN_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link_local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "reserved"),
        ("192.88.99.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved"),
        ("198.51.100.0/24", "reserved"),
        ("203.0.113.0/24", "reserved"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "reserved"),  # IPv4-compatible (deprecated)
        ("64:ff9b:1::/48", "reserved"),  # local-use NAT64
        ("100::/64", "reserved"),  # discard-only
        ("2001::/23", "reserved"),  # IETF protocol assignments, incl. Teredo
        ("2001:db8::/32", "reserved"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link_local"),
        ("fec0::/10", "link_local"),
        ("ff00::/8", "multicast"),
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

REASONS = {
    "metadata": "a cloud metadata address",
    "loopback": "a loopback address",
    "private": "a private address",
    "link_local": "a link-local address",
    "multicast": "a multicast address",
    "reserved": "a reserved or special-purpose address",
    "unspecified": "an unspecified address",
    "shared": "a shared (carrier-grade NAT) address",
    "not_global": "an address that is not publicly routable",
}


class WebhookUrlRefused(DomainError):
    """The URL may not be called. ``code``: ``url_forbidden_address`` (resolves to a
    forbidden address), ``url_unresolvable`` (DNS gave no address)."""

    code = "url_forbidden_address"
    problem = "webhook_url_refused"

    def __init__(self, message: str, *, code: str, reason: str = "") -> None:
        super().__init__(message, code=code, field="url")
        self.reason = reason


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be called (a key of ``REASONS``), or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "link_local"
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_refusal(embedded)
    if address in METADATA_ADDRESSES:
        return "metadata"
    for network, reason in _FORBIDDEN_NETWORKS:
        if address.version == network.version and address in network:
            return reason
    if not address.is_global or address.is_multicast:
        return "not_global"
    return None


def _allowlist_entry(entry: str) -> tuple[IPAddress, int | None]:
    """``"127.0.0.1"``, ``"127.0.0.1:8080"``, ``"[::1]"`` or ``"[::1]:8080"``."""
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    else:
        host, port = entry, ""
    try:
        return ipaddress.ip_address(host), int(port) if port else None
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"WEBHOOK_ADDRESS_ALLOWLIST entry {entry!r} is not an IP address[:port]."
        ) from exc


def _allowlisted(address: IPAddress, port: int) -> bool:
    for entry in settings.WEBHOOK_ADDRESS_ALLOWLIST:
        allowed, allowed_port = _allowlist_entry(str(entry))
        if allowed == address and allowed_port in (None, port):
            return True
    return False


@dataclass(frozen=True)
class WebhookUrl:
    """A validated URL, split into what the transport needs."""

    url: str
    scheme: str
    host: str  # lowercase, no brackets, no trailing dot
    port: int
    target: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def webhook_url_validate(value: object, *, field: str = "url") -> WebhookUrl:
    """Syntax and scheme only (no DNS): ``InvalidInput`` with a specific code."""

    def fail(code: str, message: str) -> InvalidInput:
        return InvalidInput(message, code=code, errors=[FieldError(field, code, message)])

    if not isinstance(value, str) or not value:
        raise fail("invalid_url", "Give an absolute https:// URL.")
    if len(value) > MAX_URL_LENGTH:
        raise fail("invalid_url", f"Use at most {MAX_URL_LENGTH} characters.")
    if _CONTROL_OR_SPACE.search(value) or not value.isascii():
        raise fail(
            "invalid_url",
            "The URL contains spaces, control characters, backslashes or non-ASCII characters "
            "(write international host names in punycode).",
        )
    parts: SplitResult = urlsplit(value)
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if not scheme or not parts.netloc:
        raise fail("invalid_url", "Give an absolute https:// URL.")
    if scheme not in allowed:
        if scheme == "http":
            raise fail("insecure_url", "Webhook URLs must use https://.")
        raise fail("invalid_url_scheme", "Only https:// URLs are allowed.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise fail("invalid_url", "The URL must not contain a user name or password.")
    if parts.fragment:
        raise fail("invalid_url", "The URL must not contain a #fragment.")
    try:
        port = parts.port
    except ValueError as exc:
        raise fail("invalid_url", "The URL's port is not valid.") from exc
    if port == 0:
        raise fail("invalid_url", "The URL's port is not valid.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise fail("invalid_url", "The URL needs a host name.")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.match(host) or host.replace(".", "").isdigit():
            raise fail("invalid_url", "The URL's host name is not valid.") from None
        if host == "localhost" or host.endswith(".localhost"):
            raise WebhookUrlRefused(
                "The URL's host is a loopback name.",
                code="url_forbidden_address",
                reason="loopback",
            ) from None
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return WebhookUrl(
        url=value,
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        target=target,
    )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _resolve(url: WebhookUrl) -> list[IPAddress]:
    literal = _literal(url.host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(
            url.host, url.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError) as exc:
        raise WebhookUrlRefused(
            "The URL's host name does not resolve.", code="url_unresolvable"
        ) from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise WebhookUrlRefused("The URL's host name does not resolve.", code="url_unresolvable")
    return addresses


def target_resolve(url: WebhookUrl) -> list[IPAddress]:
    """Every address ``url``'s host resolves to, each vetted; raises ``WebhookUrlRefused``
    (``url_forbidden_address`` / ``url_unresolvable``) before any connection is made."""
    addresses = _resolve(url)
    for address in addresses:
        if _allowlisted(address, url.port):
            continue
        reason = address_refusal(address)
        if reason is not None:
            raise WebhookUrlRefused(
                f"The URL's host resolves to {REASONS[reason]}; webhooks go to public "
                "addresses only.",
                code="url_forbidden_address",
                reason=reason,
            )
    return addresses


__all__ = [
    "METADATA_ADDRESSES",
    "WebhookUrl",
    "WebhookUrlRefused",
    "address_refusal",
    "target_resolve",
    "webhook_url_validate",
]
