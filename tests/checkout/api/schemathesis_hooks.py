"""Schemathesis hooks (``SCHEMATHESIS_HOOKS=tests.checkout.api.schemathesis_hooks``): the card
ingest's body is ``application/jwt``, a compact JWS, which goes on the wire as plain text."""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("application/jwt", "text/plain")
