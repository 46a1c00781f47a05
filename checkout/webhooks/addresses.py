"""Which webhook URLs and IP addresses Tessera may call (SSRF defence).

A merchant chooses the URL, so without these rules a webhook is a way to make our servers
send requests into our own network: the cloud metadata service (instance credentials), admin
ports on loopback, databases on private addresses. The rules:

1. ``webhook_url_validate``: an absolute ``https://`` URL (``http`` only where
   ``WEBHOOK_ALLOW_HTTP``, never in production), a host, no credentials, no control
   characters, at most 2000 characters.
2. ``target_resolve``: the port is one of ``WEBHOOK_ALLOWED_PORTS`` (443 by default), the
   host is resolved (or is an IP literal) and **every** address it resolves to must be
   public: in no row of IANA's special-purpose registries (``SPECIAL_PURPOSE``), not a cloud
   metadata address, and, for an IPv6 form that embeds an IPv4 address (mapped, translated,
   compatible, NAT64, 6to4, Teredo), not reaching a refused one. One bad address refuses the
   whole name: a DNS answer that mixes a public and a private address is an attack, not a
   misconfiguration.
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


@dataclass(frozen=True)
class SpecialRange:
    """One row of IANA's special-purpose address registries: the range, why we refuse it,
    whether the registry calls it globally reachable, and where it is defined."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    reason: str
    globally_reachable: bool | None  # None: "N/A" in the registry
    source: str


def _range(net: str, reason: str, reachable: bool | None, source: str) -> SpecialRange:
    return SpecialRange(ipaddress.ip_network(net), reason, reachable, source)


# IANA IPv4 Special-Purpose Address Registry (iana.org/assignments/iana-ipv4-special-registry,
# RFC 6890) and IANA IPv6 Special-Purpose Address Registry (iana.org/assignments/
# iana-ipv6-special-registry), every row, plus the multicast blocks and the deprecated forms
# RFC 4291 and RFC 3879 retired. Every row is refused: the ones the registry calls globally
# reachable are anycast relays and infrastructure services (PCP, TURN, AMT, AS112, ORCHID),
# where no webhook receiver lives. Where an IPv6 row embeds an IPv4 address
# (``embedded_ipv4``), that address is judged too, so the refusal names what it reaches.
SPECIAL_PURPOSE: tuple[SpecialRange, ...] = (
    _range("0.0.0.0/8", "unspecified", False, "RFC 791 this network"),
    _range("0.0.0.0/32", "unspecified", False, "RFC 1122 this host on this network"),
    _range("10.0.0.0/8", "private", False, "RFC 1918 private-use"),
    _range("100.64.0.0/10", "shared", False, "RFC 6598 shared address space"),
    _range("127.0.0.0/8", "loopback", False, "RFC 1122 loopback"),
    _range("169.254.0.0/16", "link_local", False, "RFC 3927 link local"),
    _range("172.16.0.0/12", "private", False, "RFC 1918 private-use"),
    _range("192.0.0.0/24", "reserved", False, "RFC 6890 IETF protocol assignments"),
    _range("192.0.0.0/29", "reserved", False, "RFC 7335 IPv4 service continuity prefix"),
    _range("192.0.0.8/32", "reserved", False, "RFC 7600 IPv4 dummy address"),
    _range("192.0.0.9/32", "reserved", True, "RFC 7723 port control protocol anycast"),
    _range("192.0.0.10/32", "reserved", True, "RFC 8155 TURN anycast"),
    _range("192.0.0.170/32", "reserved", False, "RFC 8880 NAT64/DNS64 discovery"),
    _range("192.0.0.171/32", "reserved", False, "RFC 8880 NAT64/DNS64 discovery"),
    _range("192.0.2.0/24", "reserved", False, "RFC 5737 documentation (TEST-NET-1)"),
    _range("192.31.196.0/24", "reserved", True, "RFC 7535 AS112-v4"),
    _range("192.52.193.0/24", "reserved", True, "RFC 7450 AMT"),
    _range("192.88.99.0/24", "reserved", None, "RFC 7526 deprecated 6to4 relay anycast"),
    _range("192.168.0.0/16", "private", False, "RFC 1918 private-use"),
    _range("192.175.48.0/24", "reserved", True, "RFC 7534 direct delegation AS112 service"),
    _range("198.18.0.0/15", "reserved", False, "RFC 2544 benchmarking"),
    _range("198.51.100.0/24", "reserved", False, "RFC 5737 documentation (TEST-NET-2)"),
    _range("203.0.113.0/24", "reserved", False, "RFC 5737 documentation (TEST-NET-3)"),
    _range("224.0.0.0/4", "multicast", False, "RFC 5771 multicast"),
    _range("240.0.0.0/4", "reserved", False, "RFC 1112 reserved"),
    _range("255.255.255.255/32", "reserved", False, "RFC 919 limited broadcast"),
    _range("::/128", "unspecified", False, "RFC 4291 unspecified address"),
    _range("::1/128", "loopback", False, "RFC 4291 loopback address"),
    _range("::/96", "reserved", False, "RFC 4291 §2.5.5.1 IPv4-compatible (deprecated)"),
    _range("::ffff:0:0/96", "reserved", False, "RFC 4291 IPv4-mapped"),
    _range("::ffff:0:0:0/96", "reserved", False, "RFC 2765 IPv4-translated (SIIT)"),
    _range("64:ff9b::/96", "reserved", True, "RFC 6052 IPv4/IPv6 translation"),
    _range("64:ff9b:1::/48", "reserved", False, "RFC 8215 local-use IPv4/IPv6 translation"),
    _range("100::/64", "reserved", False, "RFC 6666 discard-only"),
    _range("100:0:0:1::/64", "reserved", False, "RFC 9780 dummy IPv6 prefix"),
    _range("2001::/23", "reserved", False, "RFC 2928 IETF protocol assignments"),
    _range("2001::/32", "reserved", None, "RFC 4380 Teredo"),
    _range("2001:1::1/128", "reserved", True, "RFC 7723 port control protocol anycast"),
    _range("2001:1::2/128", "reserved", True, "RFC 8155 TURN anycast"),
    _range("2001:1::3/128", "reserved", True, "RFC 9665 DNS-SD SRP anycast"),
    _range("2001:2::/48", "reserved", False, "RFC 5180 benchmarking"),
    _range("2001:3::/32", "reserved", True, "RFC 7450 AMT"),
    _range("2001:4:112::/48", "reserved", True, "RFC 7535 AS112-v6"),
    _range("2001:10::/28", "reserved", None, "RFC 4843 ORCHID (deprecated)"),
    _range("2001:20::/28", "reserved", True, "RFC 7343 ORCHIDv2"),
    _range("2001:30::/28", "reserved", True, "RFC 9374 drone remote ID entity tags"),
    _range("2001:db8::/32", "reserved", False, "RFC 3849 documentation"),
    _range("2002::/16", "reserved", None, "RFC 3056 6to4"),
    _range("2620:4f:8000::/48", "reserved", True, "RFC 7534 direct delegation AS112 service"),
    _range("3fff::/20", "reserved", False, "RFC 9637 documentation"),
    _range("5f00::/16", "reserved", False, "RFC 9602 segment routing SIDs"),
    _range("fc00::/7", "private", False, "RFC 4193 unique-local"),
    _range("fe80::/10", "link_local", False, "RFC 4291 link-local unicast"),
    _range("fec0::/10", "link_local", None, "RFC 3879 site-local (deprecated)"),
    _range("ff00::/8", "multicast", False, "RFC 4291 multicast"),
)
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_WELL_KNOWN_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOOPBACK_OR_ANY = frozenset({ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")})
_TEREDO = ipaddress.ip_network("2001::/32")
# IPv6 ranges whose last 32 bits are an IPv4 address (RFC 4291, RFC 2765, RFC 6052, RFC 8215
# with its /96 format).
_LOW_32_EMBEDDING = tuple(
    ipaddress.ip_network(net)
    for net in ("::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48")
)

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
    forbidden address), ``url_forbidden_port`` (a port not in ``WEBHOOK_ALLOWED_PORTS``),
    ``url_unresolvable`` (DNS gave no address)."""

    code = "url_forbidden_address"
    problem = "webhook_url_refused"

    def __init__(self, message: str, *, code: str, reason: str = "") -> None:
        super().__init__(message, code=code, field="url")
        self.reason = reason


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 form can reach: mapped, translated, compatible, NAT64 (well
    known and local use), 6to4, and both ends of Teredo (server, and the client XOR-ed)."""
    found: list[ipaddress.IPv4Address] = []
    value = int(address)
    if any(address in net for net in _LOW_32_EMBEDDING) and address not in _LOOPBACK_OR_ANY:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if address in _SIX_TO_FOUR:
        found.append(ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF))
    if address in _TEREDO:
        found.append(ipaddress.IPv4Address((value >> 64) & 0xFFFFFFFF))
        found.append(ipaddress.IPv4Address(~value & 0xFFFFFFFF))
    return found


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be called (a key of ``REASONS``), or None if it is public.

    An IPv6 address that embeds an IPv4 one is judged by what it reaches first (``::ffff:0:
    127.0.0.1`` is loopback), then by its own range."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "link_local"
        address = ipaddress.IPv6Address(int(address))
        for embedded in embedded_ipv4(address):
            reason = address_refusal(embedded)
            if reason is not None:
                return reason
    if address in METADATA_ADDRESSES:
        return "metadata"
    for row in SPECIAL_PURPOSE:
        if address.version == row.network.version and address in row.network:
            if row.network == _WELL_KNOWN_NAT64:
                break  # a public IPv4 address through the well-known translator is public
            return row.reason
    else:
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
        allowed_ports = [int(port) for port in settings.WEBHOOK_ALLOWED_PORTS]
        if url.port not in allowed_ports:
            raise WebhookUrlRefused(
                f"Webhook URLs may use port {' or '.join(map(str, allowed_ports))} only.",
                code="url_forbidden_port",
                reason="port",
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
