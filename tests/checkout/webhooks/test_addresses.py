"""SSRF: which URLs and addresses webhooks may reach, checked when an endpoint is saved and
again at every delivery on the resolved address, with no connection ever opened toward a
refused one (the ``socket_guard`` fixture records every connect of this process)."""

from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from checkout.webhooks.addresses import address_refusal
from checkout.webhooks.delivery import deliveries_run
from checkout.webhooks.events import event_record
from checkout.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from checkout.webhooks.services import webhook_endpoint_create
from tests.checkout.webhooks.conftest import FakeDns, SimClock, SocketGuard
from tests.payments_site.test_settings import KMS_ENV, production_env
from tests.support.servers import ROOT
from vault.models import Merchant, Token

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "0.0.0.0": "unspecified",  # noqa: S104 (an address to refuse, nothing binds)
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "metadata",
    "169.254.170.2": "metadata",
    "169.254.1.1": "link_local",
    "100.64.0.1": "shared",
    "100.100.100.200": "metadata",
    "192.0.0.192": "metadata",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.10": "reserved",
    "198.18.0.1": "reserved",
    "::": "unspecified",
    "::1": "loopback",
    "fe80::1": "link_local",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "fd00:ec2::254": "metadata",
    "ff02::1": "multicast",
    "2001:db8::1": "reserved",
    "2001::1": "unspecified",  # Teredo, its server field 0.0.0.0
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "::ffff:169.254.169.254": "metadata",
    "::ffff:10.0.0.1": "private",
    "::127.0.0.1": "loopback",  # IPv4-compatible (deprecated form)
    "2002:a00:1::1": "private",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1": "loopback",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe": "metadata",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1": "unspecified",  # local-use NAT64 of 0.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "reserved",  # Teredo (RFC 4380 example)
}
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808"]


@pytest.mark.parametrize(("address", "reason"), REFUSED.items(), ids=list(REFUSED))
def test_non_public_addresses_are_refused_with_their_reason(address: str, reason: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def _create(client: APIClient, url: str) -> tuple[int, dict]:
    response = client.post(
        "/api/v1/webhook_endpoints",
        {"url": url, "enabled_events": ["charge.succeeded"]},
        format="json",
    )
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://10.0.0.1/", "url_forbidden_address"),
        ("https://169.254.169.254/latest/meta-data/", "url_forbidden_address"),
        ("https://[::1]/", "url_forbidden_address"),
        ("https://[::ffff:169.254.169.254]/", "url_forbidden_address"),
        ("https://[fd00:ec2::254]/", "url_forbidden_address"),
        ("https://localhost/hooks", "url_forbidden_address"),
        ("https://app.localhost/hooks", "url_forbidden_address"),
        ("https://2130706433/", "invalid_url"),  # 127.0.0.1 as one integer
        ("https://127.1/", "invalid_url"),
        ("https://user:pass@hooks.example.com/", "invalid_url"),
        ("https://hooks.example.com/#frag", "invalid_url"),
        ("https://hooks.exa mple.com/", "invalid_url"),
        ("https://hooks.example.com\\@10.0.0.1/", "invalid_url"),
        ("https://hööks.example.com/", "invalid_url"),
        ("ftp://hooks.example.com/", "invalid_url_scheme"),
        ("file:///etc/passwd", "invalid_url"),
        ("gopher://10.0.0.1:25/", "invalid_url_scheme"),
        ("hooks.example.com/webhooks", "invalid_url"),
        ("https://hooks.example.com:0/", "invalid_url"),
        ("https://hooks.example.com:99999/", "invalid_url"),
        ("https://" + "a" * 2000 + ".com/", "max_length"),
    ],
)
def test_bad_or_internal_urls_are_refused_on_save_without_a_connection(
    api_client: APIClient, socket_guard: SocketGuard, url: str, code: str
) -> None:
    # when
    status, body = _create(api_client, url)

    # then
    assert status == 400, body
    assert body["code"] == code or body["errors"][0]["code"] == code
    assert not WebhookEndpoint.objects.exists()
    assert socket_guard.besides_redis() == []


def test_allowlisted_loopback_is_the_only_exception_and_only_in_test_settings(
    api_client: APIClient, settings: SettingsWrapper, socket_guard: SocketGuard
) -> None:
    # given the test allowlist (127.0.0.1) → a test receiver's URL is accepted
    status, _ = _create(api_client, "http://127.0.0.1:9/hooks")
    assert status == 201

    # when the allowlist is empty, as production forces
    settings.WEBHOOK_ADDRESS_ALLOWLIST = []
    status, body = _create(api_client, "http://127.0.0.1:9/hooks")

    # then loopback is refused like any private address
    assert status == 400
    assert body["code"] == "url_forbidden_address"
    assert "loopback" in body["detail"]
    assert socket_guard.besides_redis() == []


def test_http_is_refused_when_not_allowed_as_in_production(
    api_client: APIClient, settings: SettingsWrapper, fake_dns: FakeDns
) -> None:
    settings.WEBHOOK_ALLOW_HTTP = False
    fake_dns.set("hooks.example.com", ["93.184.216.34"])

    status, body = _create(api_client, "http://hooks.example.com/webhooks")

    assert status == 400
    assert body["code"] == "insecure_url"
    assert body["errors"] == [
        {"field": "url", "code": "insecure_url", "message": "Webhook URLs must use https://."}
    ]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "answer",
    [["10.1.2.3"], ["93.184.216.34", "192.168.0.10"], ["169.254.169.254"], ["fd00:ec2::254"]],
    ids=["private", "mixed-public-and-private", "metadata", "metadata-v6"],
)
def test_a_name_resolving_to_a_private_address_is_refused_without_a_connection(
    api_client: APIClient, fake_dns: FakeDns, socket_guard: SocketGuard, answer: list[str]
) -> None:
    fake_dns.set("internal.example.com", answer)

    status, body = _create(api_client, "https://internal.example.com/hooks")

    assert status == 400
    assert body["code"] == "url_forbidden_address"
    assert fake_dns.lookups == ["internal.example.com"]
    assert not WebhookEndpoint.objects.exists()
    for address in answer:
        assert socket_guard.toward(address) == []


def test_a_name_that_does_not_resolve_is_refused(api_client: APIClient) -> None:
    status, body = _create(api_client, "https://nowhere.example.com/hooks")

    assert status == 400
    assert body["code"] == "url_unresolvable"


def test_dns_rebinding_after_save_is_caught_at_delivery_without_a_connection(
    merchant: Merchant,
    token: Token,
    fake_dns: FakeDns,
    socket_guard: SocketGuard,
    clock: SimClock,
) -> None:
    # given a name that is public when the endpoint is saved, then rebinds to the metadata
    # service (and stays there)
    fake_dns.set("rebind.example.com", ["93.184.216.34"], ["169.254.169.254"])
    endpoint, _ = webhook_endpoint_create(
        merchant=merchant, url="https://rebind.example.com/hooks", enabled_events=["*"]
    )
    event_record(event_type="token.revoked", obj=token)

    # when the delivery runs
    made = deliveries_run(now=clock.now)

    # then the attempt is refused before connecting, and recorded
    assert made == 1
    attempt = WebhookAttempt.objects.get()
    assert attempt.error == "address_forbidden"
    assert "metadata" in attempt.error_detail
    assert attempt.status_code is None
    assert attempt.remote_address == ""
    assert socket_guard.toward("169.254.169.254") == []
    assert socket_guard.toward("93.184.216.34") == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at > clock.now
    assert fake_dns.lookups == ["rebind.example.com", "rebind.example.com"]
    endpoint.refresh_from_db()
    assert endpoint.status == "enabled"


def test_a_literal_ip_endpoint_saved_under_looser_settings_is_refused_at_delivery(
    merchant: Merchant,
    token: Token,
    settings: SettingsWrapper,
    socket_guard: SocketGuard,
    clock: SimClock,
) -> None:
    # given an endpoint on 127.0.0.1 saved while the (test) allowlist allowed it
    webhook_endpoint_create(merchant=merchant, url="http://127.0.0.1:9/hooks", enabled_events=["*"])
    event_record(event_type="token.revoked", obj=token)

    # when the allowlist is gone by delivery time
    settings.WEBHOOK_ADDRESS_ALLOWLIST = []
    deliveries_run(now=clock.now)

    # then nothing connects to it
    assert WebhookAttempt.objects.get().error == "address_forbidden"
    assert [a for a in socket_guard.attempts if a[1] == 9] == []


def _production(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**production_env(), **KMS_ENV, **extra}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_with_a_webhook_allowlist_or_http() -> None:
    allowlist = _production({"WEBHOOK_ADDRESS_ALLOWLIST": "127.0.0.1"})
    http = _production({"WEBHOOK_ALLOW_HTTP": "true"})

    assert allowlist.returncode != 0
    assert "WEBHOOK_ADDRESS_ALLOWLIST" in allowlist.stderr
    assert http.returncode != 0
    assert "WEBHOOK_ALLOW_HTTP cannot be true in production" in http.stderr


def test_production_settings_default_to_https_and_no_allowlist() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; import django; django.setup(); "
            "print(settings.WEBHOOK_ALLOW_HTTP, settings.WEBHOOK_ADDRESS_ALLOWLIST)",
        ],
        cwd=ROOT,
        env={**production_env(), **KMS_ENV},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False []"
