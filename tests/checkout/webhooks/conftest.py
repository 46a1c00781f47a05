"""Fixtures for the webhook suites: receivers, a socket guard, a fake DNS, endpoints."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.utils import timezone

from checkout.webhooks.models import WebhookEndpoint
from checkout.webhooks.services import webhook_endpoint_create
from tests.checkout.webhooks.receiver import Receiver, receiver_server
from tests.factories import TokenFactory
from vault.envelope import data_keys
from vault.models import Merchant, Token


@pytest.fixture(autouse=True)
def _fresh_data_keys() -> Iterator[None]:
    """The vault caches its sealing data key per process; a test's rollback deletes the row
    behind it, so every test starts (and ends) without one."""
    data_keys.clear()
    yield
    data_keys.clear()


# --- the network edge ---------------------------------------------------------------------------


@dataclass
class SocketGuard:
    """Every outgoing connection attempt of this process, by address. Only 127.0.0.1 (the
    tests' receivers, Redis) is let through; anything else fails before a packet is sent."""

    attempts: list[tuple[str, int]] = field(default_factory=list)

    def toward(self, address: str) -> list[tuple[str, int]]:
        wanted = ipaddress.ip_address(address)
        return [a for a in self.attempts if ipaddress.ip_address(a[0]) == wanted]

    def outside_loopback(self) -> list[tuple[str, int]]:
        return [a for a in self.attempts if a[0] != "127.0.0.1"]

    def besides_redis(self) -> list[tuple[str, int]]:
        """Connections other than the shared cache's (Redis, when REDIS_URL is set)."""
        redis = urlsplit(settings.REDIS_URL).port if settings.REDIS_URL else None
        return [a for a in self.attempts if a[1] != (redis or 6379)]


@pytest.fixture(autouse=True)
def socket_guard(monkeypatch: pytest.MonkeyPatch) -> SocketGuard:
    guard = SocketGuard()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(address: Any) -> None:
        if isinstance(address, tuple):
            guard.attempts.append((str(address[0]), int(address[1])))
            if str(address[0]) != "127.0.0.1":
                raise ConnectionRefusedError(f"test socket guard: no traffic to {address[0]}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return guard


@dataclass
class FakeDns:
    """Names the tests control. ``answers[name]`` is a list of address lists: each lookup
    takes the next one (the last repeats), so a name can change its answer between the check
    and a later lookup (rebinding). Unknown names do not resolve; IP literals pass through."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def set(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = [list(a) for a in answers]


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    dns = FakeDns()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name)
            return real(host, port, *args, **kwargs)
        except ValueError:
            pass
        dns.lookups.append(name)
        queue = dns.answers.get(name.lower().rstrip("."))
        if not queue:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        port_number = int(port or 0)
        results: list[Any] = []
        for address in answer:
            ip = ipaddress.ip_address(address)
            if ip.version == 4:
                results.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port_number)))
            else:
                results.append(
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port_number, 0, 0))
                )
        return results

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return dns


# --- receivers and endpoints -------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiver_server() as running:
        yield running


@dataclass
class Hooked:
    endpoint: WebhookEndpoint
    secret: str
    receiver: Receiver


@pytest.fixture
def hooked(merchant: Merchant, receiver: Receiver) -> Hooked:
    """An endpoint of ``merchant`` for every event type, pointing at ``receiver``, which
    knows its secret."""
    endpoint, secret = webhook_endpoint_create(
        merchant=merchant, url=receiver.url, enabled_events=["*"]
    )
    receiver.secrets.append(secret)
    return Hooked(endpoint=endpoint, secret=secret, receiver=receiver)


@pytest.fixture
def token(merchant: Merchant) -> Token:
    return TokenFactory.create(merchant=merchant)


@dataclass
class SimClock:
    """The simulated "now" of everything in the test process (``CHECKOUT_CLOCK`` points at
    it), and of the receivers that check signatures: time is driven, never slept."""

    now: dt.datetime

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now

    def set(self, moment: dt.datetime) -> dt.datetime:
        self.now = moment
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()


_CLOCK: list[SimClock] = []


def sim_now() -> dt.datetime:
    """``CHECKOUT_CLOCK`` during tests that use the ``clock`` fixture."""
    return _CLOCK[-1].now


@pytest.fixture
def clock(settings: Any) -> Iterator[SimClock]:
    sim = SimClock(now=timezone.now().replace(microsecond=0))
    _CLOCK.append(sim)
    settings.CHECKOUT_CLOCK = "tests.checkout.webhooks.conftest.sim_now"
    yield sim
    _CLOCK.remove(sim)


# --- TLS: the tests' own CA and a certificate for a host name ---------------------------------


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], TlsFiles]:
    directory = tmp_path_factory.mktemp("webhook-tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Tessera test CA"))
        .issuer_name(_name("Tessera test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def issue(host: str) -> TlsFiles:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_path = directory / f"{host}.pem"
        key_path = directory / f"{host}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return TlsFiles(ca=ca_path, cert=cert_path, key=key_path)

    return issue
