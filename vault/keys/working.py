"""``KEYS_MODE=working``: KMS-rooted working keys, used from memory.

Strict mode costs two asymmetric KMS calls per card (Sign, DeriveSharedSecret), and AWS shares
about 1,000 asymmetric requests per second per account and region: past that the quota, not
the code, caps checkouts. Here a card JWE key pair and a card signing key are made per rotation
period (``KEYS_WORKING_PERIOD_SECONDS``) and then used in memory:

- the private half is a KMS data key (``GenerateDataKey`` under the vault key, with an
  encryption context naming the use, environment and period) read as a P-256 scalar, so it is
  stored only in its KMS-wrapped form and unwrapped once per process;
- the signing key is certified by a KMS ``Sign`` over its public key, validity window, use and
  environment; the vault trusts a card JWT signed by it only through that certificate, looked
  up by ``kid`` in the vault's own store and verified with the KMS signing key (never a key or
  certificate carried by the token);
- keys stay accepted until the last JWT or JWE made with them can have expired, and the KMS
  keys stay accepted beside them, so switching modes loses no checkout in flight;
- a period's key is a row unique per environment, use and period: processes reaching a new
  period together make one key (the losers read the winner's).

Everything else (data keys, fingerprints, audit signatures) goes to the wrapped backend as is.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.conf import settings
from django.db import IntegrityError, transaction

from payments_site.kernel.jsontext import JsonRefused, json_object_parse
from vault.models import WorkingKey

from .base import (
    CertificateRefused,
    DataKeyMaterial,
    KeyDecryptionFailed,
    KeyPurpose,
    KeyService,
    PublicKey,
    RewrappedKey,
    UnknownKey,
    public_key_from_jwk,
)
from .jwk import der_to_raw_es256, jwk_thumbprint, public_jwk

CERTIFICATE_TYPE = "tessera-working-key-certificate/1"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# The ingest's own caps: a card JWT lives at most 300 s and is judged with at most 30 s leeway.
TOKEN_LIFETIME_MAX = 300
LEEWAY_MAX = 30
# The JWKS may be cached 300 s plus 60 s stale-while-revalidate.
JWKS_CACHE_MAX = 360
# How long the listed working keys are kept before the store is read again.
PUBLISHED_TTL = 30.0
_MAX_CACHED = 1024
_USE_PURPOSE = {WorkingKey.Use.CARD_JWE: KeyPurpose.JWE, WorkingKey.Use.CARD_SIGN: KeyPurpose.SIGN}


@dataclass(frozen=True)
class _Loaded:
    kid: str
    use: str
    private: ec.EllipticCurvePrivateKey = field(repr=False)
    jwk: Mapping[str, Any]
    accept_until: float


@dataclass(frozen=True)
class _Verifier:
    public: ec.EllipticCurvePublicKey
    accept_until: float


def _canonical(value: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":")).encode("ascii")


def _epoch(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)


class WorkingKeyService(KeyService):
    """Working card keys in front of a KMS-backed ``KeyService`` (see the module docstring)."""

    mode = "working"

    def __init__(
        self,
        inner: KeyService,
        *,
        period_seconds: int | None = None,
        environment: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.period = int(period_seconds or settings.KEYS_WORKING_PERIOD_SECONDS)
        self.environment = environment or settings.KEYS_ENVIRONMENT
        self.clock = clock
        self._lock = threading.Lock()
        self._loaded: dict[str, _Loaded] = {}
        self._current: dict[str, tuple[int, str]] = {}
        self._verifiers: dict[str, _Verifier] = {}
        self._published: tuple[int, float, list[PublicKey]] | None = None

    # --- windows ------------------------------------------------------------------------------

    def _accept_until(self, use: str, not_after: float) -> float:
        """The last moment something made with a key that stopped at ``not_after`` can arrive:
        a signed JWT lives out its lifetime; a JWE can be made on a page rendered (or from a
        JWKS fetched) just before, until its checkout session expires, then sealed."""
        tokens = TOKEN_LIFETIME_MAX + LEEWAY_MAX
        if use == WorkingKey.Use.CARD_SIGN:
            return not_after + tokens
        return not_after + int(settings.CHECKOUT_SESSION_TTL_SECONDS) + JWKS_CACHE_MAX + tokens

    def _context(self, use: str, start: int) -> dict[str, str]:
        return {
            "purpose": "working-key",
            "use": use,
            "environment": self.environment,
            "period_start": str(start),
        }

    # --- making and loading keys ---------------------------------------------------------------

    def _current_key(self, use: str) -> _Loaded:
        index = int(self.clock() // self.period)
        with self._lock:
            current = self._current.get(use)
            if current is not None and current[0] == index:
                return self._loaded[current[1]]
        start = _epoch(index * self.period)
        row = WorkingKey.objects.filter(
            environment=self.environment, use=use, period_start=start
        ).first()
        if row is not None:  # committed by whoever made it
            with self._lock:
                known = self._loaded.get(row.kid)
            loaded = known or self._unwrap(row)
            self._remember(loaded, current=(use, index))
            return loaded
        loaded, made = self._create(use, index)
        if made:
            transaction.on_commit(lambda: self._remember(loaded, current=(use, index)))
        else:
            self._remember(loaded, current=(use, index))
        return loaded

    def _remember(self, loaded: _Loaded, *, current: tuple[str, int] | None = None) -> None:
        """Cache a key once its row is committed (a rolled-back row must not be used)."""
        with self._lock:
            if len(self._loaded) > _MAX_CACHED:
                self._loaded.clear()
                self._current.clear()
            self._loaded[loaded.kid] = loaded
            if current is not None:
                self._current[current[0]] = (current[1], loaded.kid)

    def _create(self, use: str, index: int) -> tuple[_Loaded, bool]:
        """This period's key and whether this call made it (False: another process had)."""
        start = index * self.period
        context = self._context(use, start)
        material = self._scalar_data_key(context)
        private = ec.derive_private_key(int.from_bytes(material.plaintext, "big"), ec.SECP256R1())
        jwk = public_jwk(private.public_key(), _USE_PURPOSE[WorkingKey.Use(use)])
        kid = str(jwk["kid"])
        not_after = start + self.period
        row = WorkingKey(
            kid=kid,
            use=use,
            environment=self.environment,
            period_start=_epoch(start),
            not_after=_epoch(not_after),
            accept_until=_epoch(self._accept_until(use, not_after)),
            public_jwk=jwk,
            wrapped_private=material.wrapped,
            wrap_key_id=material.key_id,
        )
        if use == WorkingKey.Use.CARD_SIGN:
            body = _canonical(
                {
                    "typ": CERTIFICATE_TYPE,
                    "kid": kid,
                    "jwk": {name: jwk[name] for name in ("kty", "crv", "x", "y")},
                    "use": use,
                    "environment": self.environment,
                    "not_before": start,
                    "not_after": not_after,
                }
            )
            signer, signature = self.inner.sign_es256(body)
            row.certificate, row.certificate_signature = body, signature
            row.certificate_signer = signer
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            # Another process made this period's key first: use theirs, drop ours.
            winner = WorkingKey.objects.get(
                environment=self.environment, use=use, period_start=_epoch(start)
            )
            return self._unwrap(winner), False
        return _Loaded(kid, use, private, jwk, self._accept_until(use, not_after)), True

    def _scalar_data_key(self, context: Mapping[str, str]) -> DataKeyMaterial:
        """A KMS data key that is a valid P-256 private scalar (all but ~2⁻³² of them are)."""
        while True:
            material = self.inner.generate_data_key(context=context)
            if 0 < int.from_bytes(material.plaintext, "big") < P256_ORDER:
                return material

    def _unwrap(self, row: WorkingKey) -> _Loaded:
        """The private half of a stored key, unwrapped by KMS and checked against its kid."""
        start = int(row.period_start.timestamp())
        plaintext = self.inner.decrypt_data_key(
            wrapped=bytes(row.wrapped_private),
            key_id=row.wrap_key_id,
            context=self._context(row.use, start),
        )
        scalar = int.from_bytes(plaintext, "big")
        if not 0 < scalar < P256_ORDER:
            raise KeyDecryptionFailed()
        private = ec.derive_private_key(scalar, ec.SECP256R1())
        jwk = public_jwk(private.public_key(), _USE_PURPOSE[WorkingKey.Use(row.use)])
        if jwk["kid"] != row.kid:
            raise KeyDecryptionFailed()
        return _Loaded(row.kid, row.use, private, jwk, row.accept_until.timestamp())

    def _stored(self, kid: str, use: str) -> _Loaded | None:
        with self._lock:
            loaded = self._loaded.get(kid)
        if loaded is not None:
            return loaded if loaded.use == use else None
        row = WorkingKey.objects.filter(kid=kid, use=use, environment=self.environment).first()
        if row is None:
            return None
        loaded = self._unwrap(row)
        self._remember(loaded)
        return loaded

    # --- the card keys ------------------------------------------------------------------------

    def public_keys(self) -> list[PublicKey]:
        """The KMS keys, then the working JWE keys still accepted (this period's is current:
        pages and ``card_encrypt`` encrypt to it; the KMS JWE key stays listed for JWEs made
        before the switch)."""
        index = int(self.clock() // self.period)
        with self._lock:
            published = self._published
        if published is None or published[0] != index or time.monotonic() > published[1]:
            current = self._current_key(WorkingKey.Use.CARD_JWE)
            rows = WorkingKey.objects.filter(
                environment=self.environment,
                use=WorkingKey.Use.CARD_JWE,
                accept_until__gt=_epoch(self.clock()),
            ).order_by("-period_start")
            working = [
                PublicKey(row.kid, KeyPurpose.JWE, dict(row.public_jwk), row.kid == current.kid)
                for row in rows
            ]
            if current.kid not in {key.kid for key in working}:  # not committed yet
                working.insert(0, PublicKey(current.kid, KeyPurpose.JWE, dict(current.jwk)))
            published = (index, time.monotonic() + PUBLISHED_TTL, working)
            with self._lock:
                if self._current.get(WorkingKey.Use.CARD_JWE) == (index, current.kid):
                    self._published = published  # its row is committed
        now = self.clock()
        working = [key for key in published[2] if self._still_listed(key.kid, now)]
        strict = [
            key if key.purpose is KeyPurpose.SIGN else replace(key, current=False)
            for key in self.inner.public_keys()
        ]
        return [*strict, *working]

    def _still_listed(self, kid: str, now: float) -> bool:
        with self._lock:
            loaded = self._loaded.get(kid)
        return loaded is None or now < loaded.accept_until

    def ecdh_derive(self, *, kid: str, peer: ec.EllipticCurvePublicKey) -> bytes:
        if not isinstance(peer.curve, ec.SECP256R1):
            raise KeyDecryptionFailed()
        loaded = self._stored(kid, WorkingKey.Use.CARD_JWE)
        if loaded is None:
            return self.inner.ecdh_derive(kid=kid, peer=peer)  # the KMS key
        if self.clock() >= loaded.accept_until:
            raise UnknownKey()  # retired: nothing made with it can still be valid
        secret: bytes = loaded.private.exchange(ec.ECDH(), peer)
        return secret

    def card_signing_kid(self) -> str:
        return self._current_key(WorkingKey.Use.CARD_SIGN).kid

    def card_sign(self, message: bytes) -> tuple[str, bytes]:
        key = self._current_key(WorkingKey.Use.CARD_SIGN)
        return key.kid, der_to_raw_es256(key.private.sign(message, ec.ECDSA(hashes.SHA256())))

    def card_verify_key(self, kid: str) -> ec.EllipticCurvePublicKey:
        """A working signing key through its certificate in our store, or the KMS key."""
        now = self.clock()
        with self._lock:
            verifier = self._verifiers.get(kid)
        if verifier is None:
            if any(k.kid == kid and k.purpose is KeyPurpose.SIGN for k in self.inner.public_keys()):
                return self.inner.card_verify_key(kid)
            row = WorkingKey.objects.filter(kid=kid, use=WorkingKey.Use.CARD_SIGN).first()
            if row is None:
                raise UnknownKey()
            verifier = self._certified(row)
            with self._lock:
                if len(self._verifiers) > _MAX_CACHED:
                    self._verifiers.clear()
                self._verifiers[kid] = verifier
        if now >= verifier.accept_until:
            raise CertificateRefused(
                "certificate_expired", "The signing key's certificate has expired."
            )
        return verifier.public

    def _certified(self, row: WorkingKey) -> _Verifier:
        """The public key a stored certificate vouches for, once its KMS signature, type, use,
        environment, kid and window all hold. The row's other columns are not trusted."""
        forged = CertificateRefused("certificate_invalid", "The signing key is not certified.")
        signer = next(
            (
                k
                for k in self.inner.public_keys()
                if k.kid == row.certificate_signer and k.purpose is KeyPurpose.SIGN
            ),
            None,
        )
        body, signature = bytes(row.certificate or b""), bytes(row.certificate_signature or b"")
        if signer is None or not body or len(signature) != 64:
            raise forged
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            public_key_from_jwk(signer.jwk).verify(der, body, ec.ECDSA(hashes.SHA256()))
            certificate = json_object_parse(body, max_bytes=2048, max_depth=2)
        except (InvalidSignature, JsonRefused) as exc:
            raise forged from exc
        if certificate.get("typ") != CERTIFICATE_TYPE:
            raise forged
        if certificate.get("use") != WorkingKey.Use.CARD_SIGN:
            raise CertificateRefused(
                "certificate_wrong_purpose", "The signing key is certified for another use."
            )
        if certificate.get("environment") != self.environment:
            raise CertificateRefused(
                "certificate_wrong_environment",
                "The signing key is certified for another environment.",
            )
        jwk, not_before, not_after = (
            certificate.get("jwk"),
            certificate.get("not_before"),
            certificate.get("not_after"),
        )
        if not (isinstance(jwk, dict) and isinstance(not_before, int)):
            raise forged
        if not isinstance(not_after, int) or isinstance(not_after, bool):
            raise forged
        try:
            if certificate.get("kid") != row.kid or jwk_thumbprint(jwk) != row.kid:
                raise forged
            public = public_key_from_jwk(jwk)
        except (KeyError, ValueError) as exc:
            raise forged from exc
        if self.clock() < not_before - LEEWAY_MAX:
            raise CertificateRefused(
                "certificate_not_yet_valid", "The signing key's certificate is not valid yet."
            )
        return _Verifier(public, self._accept_until(WorkingKey.Use.CARD_SIGN, not_after))

    # --- everything else: the wrapped backend --------------------------------------------------

    def sign_es256(self, message: bytes) -> tuple[str, bytes]:
        return self.inner.sign_es256(message)

    def generate_data_key(self, *, context: Mapping[str, str]) -> DataKeyMaterial:
        return self.inner.generate_data_key(context=context)

    def decrypt_data_key(self, *, wrapped: bytes, key_id: str, context: Mapping[str, str]) -> bytes:
        return self.inner.decrypt_data_key(wrapped=wrapped, key_id=key_id, context=context)

    def reencrypt_data_key(
        self, *, wrapped: bytes, key_id: str, context: Mapping[str, str]
    ) -> RewrappedKey:
        return self.inner.reencrypt_data_key(wrapped=wrapped, key_id=key_id, context=context)

    def mac(self, message: bytes) -> bytes:
        return self.inner.mac(message)

    def health_check(self) -> None:
        self.inner.health_check()

    def rotate_key(self, purpose: KeyPurpose) -> str:
        return self.inner.rotate_key(purpose)

    def retire_vault_key_version(self, *, key_id: str, key_version: str) -> bool:
        return self.inner.retire_vault_key_version(key_id=key_id, key_version=key_version)

    def __getattr__(self, name: str) -> Any:
        # Backend-specific administration (``vault_key_version``, ``client``) passes through.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
