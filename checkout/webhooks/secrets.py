"""Webhook signing secrets, encrypted at rest with the vault's envelope keys.

A signing secret has to be usable (we sign with it), so it cannot be hashed like an API key.
It is sealed like a card: AES-256-GCM under one of the vault's data keys (KMS-wrapped,
``vault.envelope.data_keys``), with associated data binding the ciphertext to its own row and
endpoint, so a ciphertext copied onto another endpoint does not open. The data keys are the
vault's ``DataKey`` rows, so ``rewrap_data_keys`` re-wraps these too when the master key
rotates, and ``vault_key_version_retire`` counts them as in use. Deleting a ``WebhookSecret``
row destroys the secret.

The secret itself is ``whsec_`` + 256 random bits (base62); it is returned once, by
``secret_store``'s caller, and never logged, stored in clear or shown in the admin.
"""

from __future__ import annotations

import secrets as _random
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db.models import F, Q

from checkout.webhooks.models import WebhookEndpoint, WebhookSecret
from payments_site.kernel.ids import base62
from vault.envelope import NONCE_BYTES, data_keys
from vault.keys import KeyDecryptionFailed, get_key_service

PREFIX = "whsec_"
_AAD = b"tessera/webhook-secret/v1\x00"


def secret_generate() -> str:
    return PREFIX + base62(32)


def _aad(*, secret_id: str, endpoint_id: str) -> bytes:
    return _AAD + secret_id.encode("ascii") + b"\x00" + endpoint_id.encode("ascii")


def secret_store(*, endpoint: WebhookEndpoint, secret: str, now: datetime) -> WebhookSecret:
    """Seal ``secret`` as ``endpoint``'s current signing secret (inside the caller's
    transaction)."""
    data_key_id, key = data_keys.for_sealing(get_key_service())
    row = WebhookSecret(endpoint=endpoint, data_key_id=data_key_id, created_at=now)
    nonce = _random.token_bytes(NONCE_BYTES)
    row.nonce = nonce
    row.ciphertext = AESGCM(key).encrypt(
        nonce, secret.encode("ascii"), _aad(secret_id=row.id, endpoint_id=endpoint.pk)
    )
    row.save(force_insert=True)
    return row


def secret_open(row: WebhookSecret) -> str:
    """The plaintext secret (in memory, to sign with). ``KeyDecryptionFailed`` if altered."""
    key = data_keys.for_opening(row.data_key, get_key_service())
    try:
        plaintext = AESGCM(key).decrypt(
            bytes(row.nonce),
            bytes(row.ciphertext),
            _aad(secret_id=row.id, endpoint_id=row.endpoint_id),
        )
    except (InvalidTag, ValueError) as error:
        raise KeyDecryptionFailed() from error
    return plaintext.decode("ascii")


def secrets_valid(*, endpoint_id: str, now: datetime) -> list[str]:
    """Every secret that signs at ``now``: the current one first, then a rolled one still in
    its overlap."""
    rows = (
        WebhookSecret.objects.select_related("data_key")
        .filter(endpoint_id=endpoint_id)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by(F("expires_at").desc(nulls_first=True), "-created_at")
    )
    return [secret_open(row) for row in rows]


def secrets_purge(*, now: datetime) -> int:
    """Destroy secrets whose overlap has ended. Returns how many."""
    deleted, _ = WebhookSecret.objects.filter(expires_at__lte=now).delete()
    return deleted


__all__ = ["PREFIX", "secret_generate", "secret_open", "secret_store", "secrets_purge"]
