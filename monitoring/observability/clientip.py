"""The client's address, as far as it can be trusted.

``X-Forwarded-For`` is written by whoever sends the request, so it is read only when settings
say how many proxies of ours stand in front (``TRUSTED_PROXY_COUNT``): each appends the address
it saw, so the client is the entry that many places from the right. Anything left of it is the
client's own claim and is ignored. With no trusted proxy, only the socket address counts.
Used by axes (``AXES_CLIENT_IP_CALLABLE``), the API-key lockout, the anomaly rules and logs, so
every control keys on the same address.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest


# Pure, and asked several times per request (lockout, throttles, rules, logs) for the few
# addresses a server sees most: parsing one costs dozens of calls.
@functools.lru_cache(maxsize=4096)
def _valid(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    remote = _valid(request.META.get("REMOTE_ADDR", "") or "")
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if proxies <= 0:
        return remote
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < proxies:
        # Fewer hops than proxies: the request did not come through them all.
        return remote
    return _valid(hops[-proxies]) or remote
