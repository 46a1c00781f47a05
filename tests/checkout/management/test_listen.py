"""``manage.py listen`` forwards a merchant's events, as they are recorded, signed, to a local
receiver, printing each; it refuses production settings and non-local URLs."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from checkout.webhooks.events import event_record
from checkout.webhooks.signature import verify_signature
from tests.factories import MerchantFactory, TokenFactory

pytestmark = pytest.mark.django_db(transaction=True)


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _listen(out: StringIO, **options: Any) -> threading.Thread:
    thread = threading.Thread(
        target=call_command, args=("listen",), kwargs={"stdout": out, **options}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while "Signing secret" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    return thread


def test_forwards_each_new_event_signed_and_prints_it() -> None:
    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    merchant, other = MerchantFactory.create(), MerchantFactory.create()
    old = event_record(event_type="token.revoked", obj=TokenFactory.create(merchant=merchant))
    out = StringIO()
    url = f"http://127.0.0.1:{receiver.server_port}/hooks"

    listener = _listen(out, forward_to=url, merchant=merchant.pk, interval=0.1, max_events=1,
                       timeout=20)  # fmt: skip
    event_record(event_type="token.revoked", obj=TokenFactory.create(merchant=other))
    new = event_record(event_type="token.revoked", obj=TokenFactory.create(merchant=merchant))
    listener.join(25)
    receiver.shutdown()

    printed = out.getvalue()
    secret = printed.split("Signing secret for this session: ")[1].split()[0]
    assert [headers["Tessera-Event-Id"] for headers, _ in _Receiver.received] == [new.pk]
    headers, body = _Receiver.received[0]
    assert body == new.payload.encode()
    verify_signature(body, headers["Tessera-Signature"], secret)  # raises unless signed
    assert f"--> token.revoked [{new.pk}]" in printed
    assert f"<-- [204] POST {url} [{new.pk}]" in printed
    assert old.pk not in printed  # only what happens while it listens


@override_settings(DEVELOPMENT_COMMANDS=False)
def test_refused_with_production_settings() -> None:
    MerchantFactory.create(name="Demo Store")

    with pytest.raises(CommandError, match="development tool"):
        call_command("listen", forward_to="http://localhost:8000/hooks", timeout=1)


@pytest.mark.parametrize(
    "url", ["https://shop.example.com/hooks", "ftp://localhost/x", "http://10.0.0.1/hooks"]
)
def test_refuses_urls_off_this_machine(url: str) -> None:
    MerchantFactory.create(name="Demo Store")

    with pytest.raises(CommandError, match="localhost"):
        call_command("listen", forward_to=url, timeout=1)
