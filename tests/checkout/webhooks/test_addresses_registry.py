"""SSRF by address form: every row of the special-purpose table (IANA's IPv4 and IPv6
registries) is refused, every IPv6 form that embeds an IPv4 address is judged by what it
reaches, and only the configured ports may be named — when an endpoint is saved and again at
every delivery."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from checkout.webhooks.addresses import SPECIAL_PURPOSE, address_refusal, embedded_ipv4
from checkout.webhooks.delivery import deliveries_run
from checkout.webhooks.events import event_record
from checkout.webhooks.models import WebhookAttempt, WebhookEndpoint
from checkout.webhooks.services import webhook_endpoint_create
from tests.checkout.webhooks.conftest import FakeDns, SimClock, SocketGuard
from vault.models import Merchant, Token

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address


def _samples(row_network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[str]:
    first, last = row_network[0], row_network[-1]
    middle = type(first)((int(first) + int(last)) // 2)
    return [str(a) for a in dict.fromkeys([first, middle, last])]


ROWS = [(str(row.network), address) for row in SPECIAL_PURPOSE for address in _samples(row.network)]


def test_the_table_covers_both_registries() -> None:
    assert len([r for r in SPECIAL_PURPOSE if r.network.version == 4]) >= 25
    assert len([r for r in SPECIAL_PURPOSE if r.network.version == 6]) >= 25
    assert all(row.source.startswith("RFC") for row in SPECIAL_PURPOSE)


@pytest.mark.parametrize(("network", "address"), ROWS)
def test_every_special_purpose_address_is_refused(network: str, address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is not None, network


# Each IPv6 form that carries an IPv4 address, as a function of that address.
def _low32(prefix: str) -> Callable[[V4], V6]:
    return lambda v4: V6(int(V6(prefix)) | int(v4))


EMBEDDINGS: dict[str, Callable[[V4], V6]] = {
    "mapped ::ffff:a.b.c.d": _low32("::ffff:0:0"),
    "translated ::ffff:0:a.b.c.d": _low32("::ffff:0:0:0"),
    "compatible ::a.b.c.d": _low32("::"),
    "NAT64 64:ff9b::/96": _low32("64:ff9b::"),
    "local NAT64 64:ff9b:1::/48": _low32("64:ff9b:1::"),
    "6to4 2002::/16": lambda v4: V6((0x2002 << 112) | (int(v4) << 80) | 1),
    "Teredo server": lambda v4: V6((0x20010000 << 96) | (int(v4) << 64) | 0xFFFFFFFF),
    "Teredo client": lambda v4: V6(
        (0x20010000 << 96) | (int(V4("8.8.8.8")) << 64) | (~int(v4) & 0xFFFFFFFF)
    ),
}
TARGETS = {"127.0.0.1": "loopback", "169.254.169.254": "metadata", "10.1.2.3": "private"}


@pytest.mark.parametrize("form", EMBEDDINGS)
@pytest.mark.parametrize(("ipv4", "reason"), TARGETS.items())
def test_an_ipv6_form_is_judged_by_the_ipv4_address_it_reaches(
    form: str, ipv4: str, reason: str
) -> None:
    address = EMBEDDINGS[form](V4(ipv4))

    assert V4(ipv4) in embedded_ipv4(address)
    assert address_refusal(address) == reason


def test_the_red_teams_translated_forms_are_refused() -> None:
    assert address_refusal(V6("::ffff:0:127.0.0.1")) == "loopback"
    assert address_refusal(V6("::ffff:0:169.254.169.254")) == "metadata"
    assert address_refusal(V6("::ffff:0:0a00:1")) == "private"


def test_a_public_address_through_the_well_known_translator_stays_public() -> None:
    assert address_refusal(V6("64:ff9b::8.8.8.8")) is None
    assert address_refusal(V6("2606:4700:4700::1111")) is None
    assert address_refusal(V4("93.184.216.34")) is None


def _create(client: APIClient, url: str) -> tuple[int, dict]:
    response = client.post(
        "/api/v1/webhook_endpoints",
        {"url": url, "enabled_events": ["charge.succeeded"]},
        format="json",
    )
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "url",
    [
        "https://[::ffff:0:7f00:1]/hooks",
        "https://[::ffff:0:a9fe:a9fe]/latest/meta-data/",
        "https://[2001:0:a9fe:a9fe::ffff:ffff]/hooks",
        "https://[64:ff9b:1::a9fe:a9fe]/hooks",
    ],
)
def test_embedded_forms_are_refused_on_save_without_a_connection(
    api_client: APIClient, socket_guard: SocketGuard, url: str
) -> None:
    status, body = _create(api_client, url)

    assert status == 400, body
    assert body["code"] == "url_forbidden_address"
    assert not WebhookEndpoint.objects.exists()
    assert socket_guard.besides_redis() == []


@pytest.mark.parametrize("port", [22, 80, 8443, 6379])
def test_only_configured_ports_may_be_named(
    api_client: APIClient, fake_dns: FakeDns, socket_guard: SocketGuard, port: int
) -> None:
    fake_dns.set("hooks.example.com", ["93.184.216.34"])

    status, body = _create(api_client, f"https://hooks.example.com:{port}/hooks")

    assert status == 400, body
    assert body["code"] == "url_forbidden_port"
    assert "443" in body["detail"]
    assert not WebhookEndpoint.objects.exists()
    assert socket_guard.toward("93.184.216.34") == []


def test_the_allowed_ports_are_configurable(
    api_client: APIClient, fake_dns: FakeDns, settings: SettingsWrapper
) -> None:
    fake_dns.set("hooks.example.com", ["93.184.216.34"])
    settings.WEBHOOK_ALLOWED_PORTS = [443, 8443]

    assert _create(api_client, "https://hooks.example.com:8443/hooks")[0] == 201
    assert _create(api_client, "https://hooks.example.com/hooks")[0] == 201
    assert _create(api_client, "https://hooks.example.com:8444/hooks")[0] == 400


def test_a_port_refused_since_saving_is_refused_at_delivery(
    merchant: Merchant,
    token: Token,
    fake_dns: FakeDns,
    settings: SettingsWrapper,
    socket_guard: SocketGuard,
    clock: SimClock,
) -> None:
    fake_dns.set("hooks.example.com", ["93.184.216.34"])
    settings.WEBHOOK_ALLOWED_PORTS = [443, 8443]
    webhook_endpoint_create(
        merchant=merchant, url="https://hooks.example.com:8443/hooks", enabled_events=["*"]
    )
    event_record(event_type="token.revoked", obj=token)

    settings.WEBHOOK_ALLOWED_PORTS = [443]
    deliveries_run(now=clock.now)

    attempt = WebhookAttempt.objects.get()
    assert attempt.error == "address_forbidden"
    assert "port" in attempt.error_detail
    assert socket_guard.toward("93.184.216.34") == []
