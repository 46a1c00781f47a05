"""Card fingerprints without a KMS call per card.

A fingerprint is HMAC-SHA256 over the PAN under a per-merchant, per-mode subkey; the subkey is
itself a KMS ``GenerateMac`` (the FINGERPRINT key never leaves KMS) over the merchant id and
mode, derived once and held in process memory for ``DATA_KEY_MAX_AGE_SECONDS``, like data keys.
Equal cards of one merchant and mode match; nothing links a card across merchants or modes.

Version 1 fingerprints (one ``GenerateMac`` over merchant id + PAN per card) stay comparable:
``fingerprint_v1`` computes them for de-duplication against tokens not yet re-keyed, and
``manage.py rekey_fingerprints`` moves such tokens to the current version.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict

from django.conf import settings

from payments_site.kernel.encoding import b64url_encode

from .keys import KeyService, get_key_service

FINGERPRINT_VERSION = 2
V1_DOMAIN = b"tessera/fingerprint/v1\x00"
SUBKEY_DOMAIN = b"tessera/fingerprint-subkey/v2\x00"
_CACHE_SIZE = 4096


def subkey_message(*, merchant_id: str, livemode: bool) -> bytes:
    """What the FINGERPRINT key MACs into a subkey: merchant and mode, unambiguously."""
    mode = b"live" if livemode else b"test"
    return SUBKEY_DOMAIN + merchant_id.encode("ascii") + b"\x00" + mode


class SubkeyCache:
    """Per (merchant, mode) subkeys, in memory only, re-derived after the data-key age."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._keys: OrderedDict[tuple[str, bool], tuple[bytes, float]] = OrderedDict()

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()

    def get(self, *, merchant_id: str, livemode: bool, keys: KeyService) -> bytes:
        slot = (merchant_id, livemode)
        max_age = float(settings.DATA_KEY_MAX_AGE_SECONDS)
        with self._lock:
            if os.getpid() != self._pid:  # a forked child derives its own
                self._pid = os.getpid()
                self._keys.clear()
            cached = self._keys.get(slot)
            if cached and time.monotonic() - cached[1] < max_age:
                self._keys.move_to_end(slot)
                return cached[0]
        # The KMS round trip runs outside the lock; two threads may both derive, harmlessly.
        subkey = keys.mac(subkey_message(merchant_id=merchant_id, livemode=livemode))
        with self._lock:
            self._keys[slot] = (subkey, time.monotonic())
            while len(self._keys) > _CACHE_SIZE:
                self._keys.popitem(last=False)
        return subkey


subkeys = SubkeyCache()


def card_fingerprint(
    *, merchant_id: str, number: str, livemode: bool = False, keys: KeyService | None = None
) -> str:
    """The current-version fingerprint: HMAC(subkey(merchant, mode), PAN)."""
    subkey = subkeys.get(merchant_id=merchant_id, livemode=livemode, keys=keys or get_key_service())
    return b64url_encode(hmac.new(subkey, number.encode("ascii"), hashlib.sha256).digest())


def fingerprint_v1(*, merchant_id: str, number: str, keys: KeyService | None = None) -> str:
    """The version 1 fingerprint (one KMS call): only for tokens made before subkeys."""
    message = V1_DOMAIN + merchant_id.encode("ascii") + b"\x00" + number.encode("ascii")
    return b64url_encode((keys or get_key_service()).mac(message))
