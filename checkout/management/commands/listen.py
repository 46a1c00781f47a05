"""``manage.py listen --forward-to http://localhost:8000/webhooks``: what ``stripe listen`` gives a
developer. Watches one merchant's test-mode events as they are recorded and forwards each,
signed like a real delivery (``Tessera-Signature`` under a signing secret printed at start),
to a URL on this machine, printing a line per event and per answer.

Development only: refused with production settings (``DEVELOPMENT_COMMANDS``), refused for
anything but a local address, and it reads events from the database directly, so no endpoint,
public URL or ``WEBHOOK_ALLOW_HTTP`` is needed.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from checkout.webhooks.models import Event
from checkout.webhooks.signature import HEADER, signature_header
from vault.management.commands.bootstrap_demo import DEMO_MERCHANT
from vault.models import Merchant

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class Command(BaseCommand):
    help = "Forward this merchant's test-mode events, signed, to a local URL (development)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--forward-to", required=True, help="http(s)://localhost:PORT/path")
        parser.add_argument("--merchant", default="", help=f"mer_… (default: {DEMO_MERCHANT})")
        parser.add_argument("--events", default="*", help="comma-separated types, or *")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
        parser.add_argument("--max-events", type=int, default=0, help="stop after N (0: never)")
        parser.add_argument("--timeout", type=float, default=0, help="stop after N s (0: never)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "DEVELOPMENT_COMMANDS", False):
            raise CommandError("listen is a development tool: refused with these settings.")
        url = _local_url(options["forward_to"])
        merchant = _merchant(options["merchant"])
        types = {t.strip() for t in options["events"].split(",") if t.strip()}
        secret = f"whsec_{secrets.token_urlsafe(32)}"
        self.stdout.write(
            f"Ready: forwarding {merchant.pk}'s test-mode events to {url}\n"
            f"Signing secret for this session: {secret}  (Ctrl-C to stop)"
        )
        self.stdout.flush()
        since = timezone.now()
        seen: set[str] = set()
        forwarded = 0
        deadline = time.monotonic() + options["timeout"] if options["timeout"] else None
        with requests.Session() as http:
            while deadline is None or time.monotonic() < deadline:
                for event in _events_after(merchant=merchant, since=since, types=types):
                    if event.pk in seen:
                        continue
                    seen.add(event.pk)
                    since = max(since, event.created_at)
                    self._forward(http, url=url, secret=secret, event=event)
                    forwarded += 1
                    if forwarded == options["max_events"]:
                        return
                time.sleep(options["interval"])

    def _forward(self, http: requests.Session, *, url: str, secret: str, event: Event) -> None:
        payload = event.payload.encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Tessera-Event-Id": event.pk,
            HEADER: signature_header(payload=payload, secrets=[secret], timestamp=int(time.time())),
        }
        stamp = timezone.localtime().strftime("%H:%M:%S")
        self.stdout.write(f"{stamp}  --> {event.type} [{event.pk}]")
        try:
            answer = http.post(url, data=payload, headers=headers, timeout=10)
        except requests.RequestException as error:
            self.stdout.write(f"{stamp}  <-- failed: {type(error).__name__} (POST {url})")
        else:
            self.stdout.write(f"{stamp}  <-- [{answer.status_code}] POST {url} [{event.pk}]")
        self.stdout.flush()


def _local_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or parts.hostname not in _LOCAL_HOSTS:
        raise CommandError("--forward-to must be an http(s) URL on localhost or 127.0.0.1.")
    return value


def _merchant(merchant_id: str) -> Merchant:
    found = (
        Merchant.objects.filter(pk=merchant_id)
        if merchant_id
        else Merchant.objects.filter(name=DEMO_MERCHANT)
    ).first()
    if found is None:
        raise CommandError("No such merchant (make run creates the demo merchant).")
    return found


def _events_after(*, merchant: Merchant, since: datetime, types: set[str]) -> list[Event]:
    events = Event.objects.filter(merchant=merchant, created_at__gte=since)
    if "*" not in types:
        events = events.filter(type__in=types)
    return list(events.order_by("created_at", "pk")[:100])
