"""Envelope encryption of cards: AES-256-GCM under data keys that KMS wraps.

Why this shape (ARCHITECTURE.md §2, §8):

- A KMS call per card would cost milliseconds and money, so one data key seals many cards. Its
  plaintext is held in this process's memory only, for at most ``DATA_KEY_MAX_AGE_SECONDS`` and
  ``DATA_KEY_MAX_USES`` cards (defaults 5 min / 10,000 — far inside AES-GCM's random-nonce
  limit of 2³² messages per key), then dropped and a new one is generated.
- ``cryptography``'s AESGCM directly: a random 96-bit nonce per card, and associated data that
  binds the ciphertext to its token id and merchant, so a ciphertext moved to another token or
  merchant does not decrypt.
- Unwrapped data keys are cached for decryption on the same bounds, so revealing cards costs
  one KMS Decrypt per data key, not per card.

The caches are per process (reset after ``fork``) and guarded by a lock, so threads and
gunicorn workers are safe; nothing correctness-critical lives in them (a lost cache only
costs a KMS call).
"""

from __future__ import annotations

import os
import secrets
import struct
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from payments_site.kernel.rows import row_insert

from .cards import Card
from .keys import KeyDecryptionFailed, KeyService, get_key_service
from .models import DataKey, EncryptedCard, VaultKeyVersion

NONCE_BYTES = 12
_AAD_PREFIX = b"tessera/card/v1\x00"
_FORMAT = 1
_UNWRAPPED_CACHE_SIZE = 256


@dataclass(frozen=True)
class CardSecret:
    """What a ciphertext holds: the card without its CVC (which is never stored)."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    name: str | None = field(default=None, repr=False)


def data_key_context(data_key_id: str) -> dict[str, str]:
    """KMS encryption context of a data key: binds the wrapped blob to its own row."""
    return {"app": "tessera", "purpose": "card-data-key", "data_key": data_key_id}


def card_aad(*, token_id: str, merchant_id: str) -> bytes:
    return _AAD_PREFIX + token_id.encode("ascii") + b"\x00" + merchant_id.encode("ascii")


def _serialize(card: Card | CardSecret) -> bytes:
    """Compact binary form (≈21 bytes plus the name): small rows, no JSON key names."""
    number = card.number.encode("ascii")
    name = (card.name or "").encode("utf-8")
    return (
        struct.pack(">BB", _FORMAT, len(number))
        + number
        + struct.pack(">BH", card.exp_month, card.exp_year)
        + name
    )


def _deserialize(data: bytes) -> CardSecret:
    try:
        version, size = struct.unpack_from(">BB", data)
        if version != _FORMAT:
            raise ValueError("unknown card format")
        number = data[2 : 2 + size].decode("ascii")
        month, year = struct.unpack_from(">BH", data, 2 + size)
        name = data[2 + size + 3 :].decode("utf-8") or None
    except (struct.error, UnicodeDecodeError, ValueError) as error:
        raise KeyDecryptionFailed() from error
    return CardSecret(number=number, exp_month=month, exp_year=year, name=name)


@dataclass
class _ActiveKey:
    data_key_id: str
    plaintext: bytes = field(repr=False)
    created: float
    uses: int = 0


class DataKeyCache:
    """The data key cards are sealed with now, and recently unwrapped ones. One per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._active: _ActiveKey | None = None
        self._unwrapped: OrderedDict[str, tuple[bytes, float, int]] = OrderedDict()
        self._known_versions: set[tuple[str, str]] = set()

    @staticmethod
    def _limits() -> tuple[float, int]:
        return float(settings.DATA_KEY_MAX_AGE_SECONDS), int(settings.DATA_KEY_MAX_USES)

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:  # a forked child must not share its parent's counters
            self._pid = os.getpid()
            self._active = None
            self._unwrapped.clear()

    def clear(self) -> None:
        with self._lock:
            self._active = None
            self._unwrapped.clear()
            self._known_versions.clear()

    def for_sealing(self, key_service: KeyService) -> tuple[str, bytes]:
        """``(data key id, plaintext)`` to seal one more card with; counts the use."""
        max_age, max_uses = self._limits()
        with self._lock:
            self._check_fork()
            active = self._active
            if active and time.monotonic() - active.created < max_age and active.uses < max_uses:
                active.uses += 1
                return active.data_key_id, active.plaintext
            self._active = None
        # Generate outside the lock: a KMS round trip must not stall other threads' sealing.
        entry = self._new_data_key(key_service)
        entry.uses = 1
        if connection.in_atomic_block:
            # The DataKey row exists only if the caller's transaction commits: share the key
            # with later cards only then, or they would reference a row that was rolled back.
            transaction.on_commit(lambda: self._install(entry))
        else:
            self._install(entry)
        return entry.data_key_id, entry.plaintext

    def _install(self, entry: _ActiveKey) -> None:
        with self._lock:
            self._check_fork()
            if self._active is None:
                self._active = entry

    def _new_data_key(self, key_service: KeyService) -> _ActiveKey:
        row = DataKey(id=DataKey._meta.get_field("id").get_default())
        material = key_service.generate_data_key(context=data_key_context(row.id))
        row.wrapped = material.wrapped
        row.kms_key_id = material.key_id
        row.kms_key_version = material.key_version
        row.wrapped_at = timezone.now()
        row.save(force_insert=True)
        self._record_version(material.key_id, material.key_version)
        return _ActiveKey(row.id, material.plaintext, time.monotonic())

    def _record_version(self, key_id: str, key_version: str) -> None:
        if (key_id, key_version) in self._known_versions:
            return
        VaultKeyVersion.objects.get_or_create(key_id=key_id, key_version=key_version)
        # Remember it only once the row is committed (runs at once outside a transaction).
        transaction.on_commit(lambda: self._known_versions.add((key_id, key_version)))

    def for_opening(self, data_key: DataKey, key_service: KeyService) -> bytes:
        """The plaintext of ``data_key``, unwrapping it through KMS at most once per window."""
        max_age, max_uses = self._limits()
        with self._lock:
            self._check_fork()
            active = self._active
            if active and active.data_key_id == data_key.id:
                return active.plaintext
            cached = self._unwrapped.get(data_key.id)
            if cached and time.monotonic() - cached[1] < max_age and cached[2] < max_uses:
                self._unwrapped[data_key.id] = (cached[0], cached[1], cached[2] + 1)
                self._unwrapped.move_to_end(data_key.id)
                return cached[0]
        plaintext = key_service.decrypt_data_key(
            wrapped=bytes(data_key.wrapped),
            key_id=data_key.kms_key_id,
            context=data_key_context(data_key.id),
        )
        with self._lock:
            self._unwrapped[data_key.id] = (plaintext, time.monotonic(), 1)
            while len(self._unwrapped) > _UNWRAPPED_CACHE_SIZE:
                self._unwrapped.popitem(last=False)
        return plaintext


data_keys = DataKeyCache()


def card_seal(
    *,
    card: Card,
    token_id: str,
    merchant_id: str,
    sealing_key: tuple[str, bytes] | None = None,
    key_service: KeyService | None = None,
) -> EncryptedCard:
    """Encrypt ``card`` (without CVC) for ``token_id`` of ``merchant_id``; saves the row.

    ``sealing_key`` is a ``data_keys.for_sealing()`` result taken before the caller's
    transaction, so that a new data key is committed (and shared) independently of it.
    """
    key_service = key_service or get_key_service()
    data_key_id, key = sealing_key or data_keys.for_sealing(key_service)
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(
        nonce, _serialize(card), card_aad(token_id=token_id, merchant_id=merchant_id)
    )
    encrypted = EncryptedCard(data_key_id=data_key_id, nonce=nonce, ciphertext=ciphertext)
    row_insert(encrypted)  # one per card: the statement is compiled once
    return encrypted


def card_open(
    *,
    encrypted: EncryptedCard,
    token_id: str,
    merchant_id: str,
    key_service: KeyService | None = None,
) -> CardSecret:
    """Decrypt a card; anything altered or moved fails closed with ``KeyDecryptionFailed``."""
    key_service = key_service or get_key_service()
    if encrypted.scheme != EncryptedCard.Scheme.AES256_GCM_V1:
        raise KeyDecryptionFailed()
    key = data_keys.for_opening(encrypted.data_key, key_service)
    try:
        plaintext = AESGCM(key).decrypt(
            bytes(encrypted.nonce),
            bytes(encrypted.ciphertext),
            card_aad(token_id=token_id, merchant_id=merchant_id),
        )
    except (InvalidTag, ValueError) as error:
        raise KeyDecryptionFailed() from error
    return _deserialize(plaintext)
