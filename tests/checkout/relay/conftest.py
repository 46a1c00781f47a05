"""Fixtures for the relay suites: a partner's HTTPS endpoint on 127.0.0.1 under a name the
tests' DNS controls, a destination registered for it, and the webhook suites' network edge
(socket guard, fake DNS, the tests' own CA)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from checkout.relay.models import ForwardDestination
from checkout.relay.services import destination_register
from tests.checkout.relay.destination import Destination, destination_server
from tests.checkout.webhooks import conftest as network_edge
from tests.checkout.webhooks.conftest import FakeDns, TlsFiles
from vault.models import Merchant

# The webhook suites' network edge, for these suites too.
socket_guard = network_edge.socket_guard
fake_dns = network_edge.fake_dns
tls_files = network_edge.tls_files

PARTNER = "partner.example"


@pytest.fixture
def partner(
    tls_files: Callable[[str], TlsFiles], fake_dns: FakeDns, settings: Any
) -> Iterator[Destination]:
    files = tls_files(PARTNER)
    fake_dns.set(PARTNER, ["127.0.0.1"])
    settings.RELAY_CA_BUNDLE = str(files.ca)
    with destination_server(certfile=str(files.cert), keyfile=str(files.key), host=PARTNER) as d:
        yield d


@pytest.fixture
def registered(merchant: Merchant, partner: Destination) -> ForwardDestination:
    """The partner's ``/v1/cards`` for ``merchant`` in test mode: number and expiry only."""
    return destination_register(
        merchant=merchant,
        livemode=False,
        name="Partner",
        host=PARTNER,
        port=partner.port,
        path_prefix="/v1/cards",
        allowed_fields=["number", "exp_month", "exp_year"],
        actor="test:operator",
    )
