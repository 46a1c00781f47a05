"""The forwarding relay: cards sent to operator-registered destinations (``checkout/relay/``)."""

from __future__ import annotations

from .environment import env

# One forward, end to end (connect, TLS, send, answer); redirects are never followed.
RELAY_TIMEOUT_SECONDS: float = env.float("RELAY_TIMEOUT_SECONDS", default=10.0)
# At most this much of a destination's answer is kept and returned (the rest is cut).
RELAY_MAX_RESPONSE_BYTES = 64 * 1024
# PEM bundle that replaces the system trust store for destinations' certificates (tests).
RELAY_CA_BUNDLE: str = env.str("RELAY_CA_BUNDLE", default="")
