"""Webhooks: events pushed to merchants' endpoints (``checkout/webhooks/``)."""

from __future__ import annotations

from .environment import env

WEBHOOK_TIMEOUT_SECONDS: float = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024
# A claimed attempt keeps other workers off for timeout + this margin (DNS, recording); after
# that a delivery whose worker died is due again (at-least-once).
WEBHOOK_LEASE_MARGIN_SECONDS: float = 60.0
# Retries: base·2^(n-1) seconds (±20 % jitter), at most the max delay apart, for the window;
# then the delivery fails and an endpoint failing all along is disabled with an alert.
WEBHOOK_RETRY_BASE_SECONDS: float = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=60.0)
WEBHOOK_RETRY_MAX_DELAY_SECONDS: float = 8 * 3600.0
WEBHOOK_RETRY_WINDOW_SECONDS: float = 3 * 86400.0
# A rolled signing secret keeps signing next to its successor this long.
WEBHOOK_SECRET_OVERLAP_SECONDS: int = 24 * 3600
WEBHOOK_MAX_ENDPOINTS: int = env.int("WEBHOOK_MAX_ENDPOINTS", default=16)
# Events (with their deliveries and attempts) are kept this long, never fewer than 30 days.
WEBHOOK_EVENT_RETENTION_DAYS: int = env.int("WEBHOOK_EVENT_RETENTION_DAYS", default=30)
# Endpoint URLs must be https (production refuses to change this).
WEBHOOK_ALLOW_HTTP: bool = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
# Ports webhook URLs may name (an admin or database port on a public host is no receiver).
WEBHOOK_ALLOWED_PORTS: list[int] = env.list("WEBHOOK_ALLOWED_PORTS", cast=int, default=[443])
# Non-public addresses webhooks may nevertheless reach ("127.0.0.1" or "127.0.0.1:8080"): for
# test receivers only. Production refuses to start with any.
WEBHOOK_ADDRESS_ALLOWLIST: list[str] = env.list("WEBHOOK_ADDRESS_ALLOWLIST", default=[])
# PEM bundle that replaces the system trust store for endpoints' certificates (tests).
WEBHOOK_CA_BUNDLE: str = env.str("WEBHOOK_CA_BUNDLE", default="")
