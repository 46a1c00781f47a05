"""The vault ingest: a sealed card JWT in, a token out — or a precise refusal.

Order matters and is fixed (RFC 8725): size cap → shape → header allowlist → ES256 signature
with the key named by ``kid`` only → claims → replay record → JWE shape and ``epk`` point →
session named in the key derivation (apu/apv) → ECDH + decrypt → session binding → card rules
→ token. Each step runs only on input the previous steps have accepted, so no key is touched,
and nothing is decrypted, for a token that is not ours.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save

from monitoring.audit.models import AuditEvent
from monitoring.audit.services import audit_record
from monitoring.observability.context import current_source_ip
from monitoring.observability.metrics import ingest_timer
from monitoring.security.cooloff import SourceCoolingOff, cooloff_check, cooloff_enforce
from monitoring.security.engine import signal_record
from monitoring.security.rules import Signal
from payments_site.kernel.errors import DomainError
from payments_site.kernel.rows import row_insert
from vault.cards import Card, CardValidationError, card_validate
from vault.keys import CertificateRefused, KeyPurpose, KeyService, UnknownKey, get_key_service
from vault.mode_cards import card_mode_check
from vault.models import Merchant, Token, UsedJti
from vault.services import token_create, token_revoke

from .claims import CARD_JWT_CLAIMS, CARD_JWT_HEADER, MemberRefused, members_check
from .jose import JoseError, b64url_decode, jwe_decrypt, jwe_parse, strict_json_object, valid_kid

MAX_TOKEN_BYTES = 8 * 1024
MAX_LIFETIME_SECONDS = 300
MAX_LEEWAY_SECONDS = 30
JWT_TYPE = "card+jwt"
# Header parameters that make a verifier fetch or trust key material chosen by the sender, or
# change how the payload is read. Named explicitly so the refusal says which one it was.
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "crit", "b64", "zip"})
CARD_FIELDS = frozenset({"number", "exp_month", "exp_year", "cvc", "name", "sid", "nonce"})


@dataclass
class _Attempt:
    """What is known about one submission so far, for the signals its outcome records.

    ``caller_ip`` sent the JWT (the shopper in the monolith, the checkout server when the vault
    runs apart); ``shopper_ip`` is the address the checkout signed into the JWT (``cip``), so
    card-testing rules count shoppers, never the checkout server.
    """

    caller_ip: str | None
    shopper_ip: str | None = None
    session_id: str | None = None
    merchant_id: str | None = None


class IngestRefused(DomainError):
    """A refused card token: not ours, not for us, or not valid now. ``code`` is the reason
    recorded in the audit trail; the subclasses say which kind of refusal it is."""

    problem = "card_token_refused"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, code=reason)


class CardTokenMalformed(IngestRefused):
    """The body is not a card token of the one shape we accept."""

    problem = "card_token_malformed"


class CardTokenReplayed(IngestRefused):
    problem = "card_token_replayed"


class CardTokenTooLarge(IngestRefused):
    problem = "card_token_too_large"


class UnsupportedCardMediaType(IngestRefused):
    problem = "unsupported_media_type"


@dataclass(frozen=True)
class IngestResult:
    """A stored token. ``cvc`` lives only in memory, for the first authorization in-process."""

    token: Token
    session_id: str
    cvc: str | None = field(default=None, repr=False)


def card_ingest(raw: bytes | str, *, keys: KeyService | None = None) -> IngestResult:
    """Verify, decrypt and tokenize one sealed card; every refusal is audited with its reason."""
    keys = keys or get_key_service()
    attempt = _Attempt(caller_ip=current_source_ip())
    with ingest_timer():
        try:
            return _cooled_off_refused(_ingest(raw, keys, attempt), attempt)
        except DomainError as exc:
            ingest_refusal_record(exc, attempt)
            raise


def _cooled_off_refused(result: IngestResult, attempt: _Attempt) -> IngestResult:
    """A card whose fingerprint cools off (declined again and again), or whose own submission
    just tripped a rule for its shopper, session or merchant, is never handed out: its token
    is crypto-shredded unused, so a tester does not learn whether the card works."""
    cooloff = cooloff_check(
        ip=attempt.shopper_ip,
        session_id=attempt.session_id,
        merchant_id=attempt.merchant_id,
        fingerprint=result.token.fingerprint,
    )
    if cooloff is None:
        return result
    token_revoke(token=result.token, actor="vault:ingest", reason="card-testing cool-off")
    raise SourceCoolingOff(cooloff)


def ingest_refusal_record(exc: DomainError, attempt: _Attempt | None = None) -> None:
    """Audit one refusal by its reason code and feed the anomaly rules; nothing from the token
    itself is recorded."""
    attempt = attempt or _Attempt(caller_ip=current_source_ip())
    audit_record(
        action="card.ingest",
        outcome=AuditEvent.Outcome.DENIED,
        actor="vault:ingest",
        object_type="card_jwt",
        reason=exc.code,
    )
    if exc.code == "too_many_attempts":
        return  # already cooling off: counting it again would only extend the alert
    if isinstance(exc, CardValidationError):
        signal_record(
            Signal.CARD_INVALID,
            ip=attempt.shopper_ip,
            session_id=attempt.session_id,
            merchant_id=attempt.merchant_id,
            reason=exc.errors[0].code if exc.errors else exc.code,
        )
        return
    signal_record(
        Signal.JTI_REPLAYED if exc.code == "token_replayed" else Signal.JWT_REJECTED,
        ip=attempt.caller_ip,
        merchant_id=attempt.merchant_id,
        reason=exc.code,
    )


def _ingest(raw: bytes | str, keys: KeyService, attempt: _Attempt) -> IngestResult:
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_TOKEN_BYTES:
        raise CardTokenTooLarge("payload_too_large", "A card token is at most 8 KiB.")
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise CardTokenMalformed("malformed_token", "The body must be a compact JWS.") from exc
    segments = token.split(".")
    if len(segments) == 5:
        raise CardTokenMalformed("jwe_not_accepted", "Send the signed card JWT, not a bare JWE.")
    if len(segments) != 3:
        raise CardTokenMalformed("malformed_token", "The body must be a compact JWS.")

    header = _header(segments[0])
    public_key = _signing_key(header, keys)
    claims = _claims(token, public_key)
    merchant = _merchant(claims)
    attempt.merchant_id, attempt.session_id = merchant.id, claims["sub"]
    attempt.shopper_ip = _shopper_ip(claims)
    # A shopper or checkout session that tripped a card-testing rule waits, even when the
    # checkout that sealed the card is another deployment that did not check.
    cooloff_enforce(
        ip=attempt.shopper_ip, session_id=attempt.session_id, merchant_id=attempt.merchant_id
    )

    # One commit per card: the jti, the ciphertext and the token. Nothing is written after
    # the jti until the card has passed every check, so a card refused there commits its jti
    # alone: spent all the same, with no savepoint to set and release.
    refusal: DomainError | None = None
    with transaction.atomic():
        _record_jti(claims)
        try:
            card, validated = _open(claims, merchant, keys)
        except (IngestRefused, CardValidationError) as exc:
            refusal = exc
        else:
            created = token_create(
                merchant=merchant, card=validated, actor=f"checkout:{claims['sub']}"
            )
    if refusal is not None:
        raise refusal
    signal_record(
        [Signal.CARD_SUBMITTED, Signal.TOKENIZED],  # one event, one counter round trip
        ip=attempt.shopper_ip,
        session_id=attempt.session_id,
        merchant_id=merchant.id,
        fingerprint=created.fingerprint,
    )
    cvc = card.get("cvc")
    return IngestResult(
        token=created, session_id=claims["sub"], cvc=cvc if isinstance(cvc, str) else None
    )


def _open(
    claims: Mapping[str, Any], merchant: Merchant, keys: KeyService
) -> tuple[dict[str, Any], Card]:
    """The card the JWE holds, once it has passed every check (the merchant's mode too):
    raises each refusal before anything but the jti is written."""
    try:
        parts = jwe_parse(claims["card"], allowed_kids=_kids(keys, KeyPurpose.JWE))
    except JoseError as exc:
        raise CardTokenMalformed(exc.reason, exc.message) from exc
    # The key derivation is bound to the session and nonce: check them before deriving.
    _check_party_info(parts.apu, parts.apv, claims)
    try:
        card = strict_json_object(jwe_decrypt(parts, keys=keys))
    except JoseError as exc:
        raise CardTokenMalformed(exc.reason, exc.message) from exc
    _check_binding(card, claims)

    validated = card_validate(
        number=card.get("number"),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
        cvc=card.get("cvc"),
        name=card.get("name"),
    )
    # token_create checks it again, after its first write would be too late for the jti.
    card_mode_check(number=validated.number, livemode=merchant.acting_livemode())
    return card, validated


def _header(segment: str) -> dict[str, Any]:
    try:
        header = strict_json_object(b64url_decode(segment))
    except JoseError as exc:
        raise CardTokenMalformed("malformed_token", "The JWS header is not valid JSON.") from exc
    forbidden = sorted(FORBIDDEN_HEADERS & set(header))
    if forbidden:
        raise IngestRefused("forbidden_header", f"Header parameter not allowed: {forbidden[0]}.")
    header = _members(header, CARD_JWT_HEADER, what="header")
    if header["alg"] != "ES256":
        raise IngestRefused("unsupported_algorithm", "Only ES256 is accepted.")
    if header["typ"] != JWT_TYPE:
        raise IngestRefused("wrong_token_type", f"The token type must be {JWT_TYPE}.")
    return header


def _members(
    value: Mapping[str, Any], table: Any, *, what: str, missing: str | None = None
) -> dict[str, Any]:
    try:
        return members_check(value, table, what=what, missing=missing)
    except MemberRefused as exc:
        refusal = CardTokenMalformed if exc.malformed else IngestRefused
        raise refusal(exc.reason, exc.message) from exc


def _kids(keys: KeyService, purpose: KeyPurpose) -> frozenset[str]:
    return frozenset(k.kid for k in keys.public_keys() if k.purpose == purpose)


def _signing_key(header: Mapping[str, Any], keys: KeyService) -> ec.EllipticCurvePublicKey:
    """The key named by ``kid`` in our own key service (a KMS key, or a working key through
    its certificate in our store): never a key the token carries."""
    try:
        kid = valid_kid(header.get("kid"))
        return keys.card_verify_key(kid)
    except (JoseError, UnknownKey) as exc:
        raise IngestRefused("unknown_kid", "Unknown signing key.") from exc
    except CertificateRefused as exc:
        raise IngestRefused(exc.code, exc.message) from exc


def _verify(token: str, public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The payload of a compact JWS whose ES256 signature verifies (RFC 7515 §5.2, RFC 7518
    §3.4: the signature is the 64-byte R‖S, never DER)."""
    head, payload, signature = token.split(".")
    try:
        raw = b64url_decode(signature)
        body = b64url_decode(payload)
    except JoseError as exc:
        raise CardTokenMalformed("malformed_token", "The card token could not be decoded.") from exc
    refused = IngestRefused("bad_signature", "The signature does not verify.")
    if len(raw) != 64:
        raise refused
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public_key.verify(der, f"{head}.{payload}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise refused from exc
    return body


def _claims(token: str, public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The claim set once the signature verifies and every claim passed its row and the
    time, issuer and audience checks (exact string comparisons: never substring or list
    membership)."""
    try:
        parsed = strict_json_object(_verify(token, public_key))
    except JoseError as exc:
        raise CardTokenMalformed("malformed_token", "The card token could not be decoded.") from exc
    claims = _members(parsed, CARD_JWT_CLAIMS, what="claim", missing="missing_claim")
    leeway = min(int(settings.CARD_JWT_LEEWAY_SECONDS), MAX_LEEWAY_SECONDS)
    if claims["iss"] != settings.CARD_JWT_ISSUER:
        raise IngestRefused("invalid_issuer", "The card token has an unknown issuer.")
    if claims["aud"] != settings.CARD_JWT_AUDIENCE:
        raise IngestRefused("invalid_audience", "The card token is for another audience.")
    now = datetime.now(UTC).timestamp()
    if claims["exp"] <= now - leeway:
        raise IngestRefused("token_expired", "The card token has expired.")
    if claims["iat"] > now + leeway:
        raise IngestRefused("token_not_yet_valid", "The card token is not valid yet.")
    if claims["exp"] - claims["iat"] > MAX_LIFETIME_SECONDS:
        raise IngestRefused("lifetime_too_long", "A card token lives at most 300 seconds.")
    return claims


def _shopper_ip(claims: Mapping[str, Any]) -> str | None:
    """The ``cip`` claim when it is an IP address (the checkout's own view of the shopper)."""
    value = claims.get("cip")
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


class _MerchantCache:
    """Active merchants read for the ingest, kept a few seconds: a card costs no merchant
    SELECT. A change saved in this process applies at once; in others within the TTL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Merchant, float]] = {}

    def get(self, merchant_id: str) -> Merchant | None:
        ttl = float(settings.INGEST_MERCHANT_CACHE_SECONDS)
        with self._lock:
            entry = self._entries.get(merchant_id)
            if entry and time.monotonic() - entry[1] < ttl:
                return entry[0]
        merchant = Merchant.objects.filter(pk=merchant_id, is_active=True).first()
        if merchant is not None and ttl > 0 and not transaction.get_connection().in_atomic_block:
            with self._lock:
                if len(self._entries) > 10_000:
                    self._entries.clear()
                self._entries[merchant_id] = (merchant, time.monotonic())
        return merchant

    def forget(self, merchant_id: str | None = None) -> None:
        with self._lock:
            if merchant_id is None:
                self._entries.clear()
            else:
                self._entries.pop(merchant_id, None)


merchants = _MerchantCache()


def _merchant_changed(sender: type[Merchant], instance: Merchant, **_: Any) -> None:
    merchants.forget(instance.pk)


post_save.connect(_merchant_changed, sender=Merchant, dispatch_uid="ingest-merchant-cache")
post_delete.connect(_merchant_changed, sender=Merchant, dispatch_uid="ingest-merchant-cache-del")


def _merchant(claims: Mapping[str, Any]) -> Merchant:
    merchant = merchants.get(claims["mer"])  # typed and shaped by the claims table
    if merchant is None:
        raise IngestRefused("unknown_merchant", "The card token names an unknown merchant.")
    livemode = claims.get("livemode")
    if not isinstance(livemode, bool):
        raise IngestRefused("missing_claim", "Required claim missing: livemode.")
    return merchant.in_mode(livemode)


def _record_jti(claims: Mapping[str, Any]) -> None:
    """One row per jti, unique in the database: a replay fails on every app server alike (a
    concurrent one waits on the first's uncommitted row, then fails). Runs first in the
    card's transaction, which a replay then rolls back whole: no savepoint needed."""
    try:
        with transaction.atomic(savepoint=False):
            row_insert(
                UsedJti(jti=claims["jti"], expires_at=datetime.fromtimestamp(claims["exp"], UTC))
            )
    except IntegrityError as exc:
        raise CardTokenReplayed("token_replayed", "This card token has been used already.") from exc


def _check_party_info(apu: bytes, apv: bytes, claims: Mapping[str, Any]) -> None:
    """``apu``/``apv`` name the session and page nonce the JWE's key was derived for."""
    expected_u = str(claims["sub"]).encode()
    expected_v = claims.get("nonce")
    if not isinstance(expected_v, str):
        raise IngestRefused("session_mismatch", "The card was not encrypted for this checkout.")
    same_u = hmac.compare_digest(apu, expected_u)
    same_v = hmac.compare_digest(apv, expected_v.encode())
    if not (same_u and same_v):
        raise IngestRefused("session_mismatch", "The card was not encrypted for this checkout.")


def _check_binding(card: Mapping[str, Any], claims: Mapping[str, Any]) -> None:
    """The JWE names the checkout session and page nonce it was made for; the signed JWT
    names the session it was sealed in. A JWE lifted from another checkout fails here."""
    if not set(card) <= CARD_FIELDS:
        raise CardTokenMalformed("malformed_card_payload", "Unexpected fields in the card.")
    sid, nonce, expected = card.get("sid"), card.get("nonce"), claims.get("nonce")
    if not (isinstance(sid, str) and isinstance(nonce, str) and isinstance(expected, str)):
        raise IngestRefused("session_mismatch", "The card was not encrypted for this checkout.")
    same_session = hmac.compare_digest(sid.encode(), str(claims["sub"]).encode())
    same_nonce = hmac.compare_digest(nonce.encode(), expected.encode())
    if not (same_session and same_nonce):
        raise IngestRefused("session_mismatch", "The card was not encrypted for this checkout.")
