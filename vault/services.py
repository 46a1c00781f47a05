"""Token services: the only code that turns cards into tokens and (for the processor adapter
alone) tokens back into cards.

Public API (keyword-only):

- ``token_create(merchant=, card=, deduplicate=False, actor=) -> Token``
- ``token_reveal(token=, purpose=, actor=) -> RevealedCard`` — audited, never the CVC
- ``token_revoke(token=, actor=, reason=) -> Token`` — crypto-shreds, audits, and publishes
  ``TokenRevoked`` (``vault.events``) for whoever listens, once committed
- ``tokens_purge_expired(...)``, ``data_keys_rewrap(...)``, ``vault_key_version_retire(...)``,
  ``vault_key_rotate(...)`` — operations behind the management commands

Key-service failures are audited (outside any transaction this module opens) and re-raised as
the domain errors of ``vault.keys``: ``KeyUnavailable`` (try again later) or
``KeyDecryptionFailed`` (fail closed). Nothing is half-written: the card row and the token are
saved in one transaction after every KMS call has succeeded.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from monitoring.audit.models import AuditEvent
from monitoring.audit.services import audit_record
from payments_site.kernel.errors import DomainError
from payments_site.kernel.events import publish
from payments_site.kernel.idempotency import effect_bind
from payments_site.kernel.ids import new_id
from payments_site.kernel.rows import row_insert, row_update

from . import events
from .cards import Card, card_expiry_end
from .envelope import card_open, card_seal, data_key_context, data_keys
from .fingerprints import FINGERPRINT_VERSION, card_fingerprint, fingerprint_v1
from .keys import KeyPurpose, KeyServiceError, get_key_service
from .mode_cards import card_mode_check
from .models import DataKey, EncryptedCard, Merchant, RewrapRun, Token, VaultKeyVersion

REASON_MAX_LENGTH = 200


class TokenNotFound(DomainError):
    code = "token_not_found"

    def __init__(self) -> None:
        super().__init__("No token with this id exists for your account.")


class TokenRevoked(DomainError):
    code = "token_revoked"

    def __init__(self) -> None:
        super().__init__("This token has been revoked; its card data no longer exists.")


class TokenExpired(DomainError):
    code = "token_expired"

    def __init__(self) -> None:
        super().__init__("The card behind this token has expired.")


class MerchantInactive(DomainError):
    code = "merchant_inactive"

    def __init__(self) -> None:
        super().__init__("This merchant account is not active.")


class InvalidReason(DomainError):
    code = "invalid_reason"


class KeyVersionInUse(DomainError):
    code = "key_version_in_use"


@dataclass(frozen=True)
class RevealedCard:
    """A card revealed for one processor call: discard it right after. Never holds the CVC."""

    token_id: str
    brand: str
    last4: str
    number: str = field(repr=False)
    exp_month: int = 0
    exp_year: int = 0
    name: str | None = field(default=None, repr=False)


@contextmanager
def key_failures_audited(*, operation: str, actor: str, object_id: str = "") -> Iterator[None]:
    """Record every key-service failure (PCI DSS 10.2) before it propagates. Around a caller's
    transaction that the failure rolls back (a charge's intent), the record is written after
    the rollback, so it survives it."""
    try:
        yield
    except KeyServiceError as error:
        audit_record(
            action="key.failure",
            outcome=AuditEvent.Outcome.FAILURE,
            actor=actor,
            object_type="token" if object_id else "",
            object_id=object_id,
            reason=error.code,
            data={"operation": operation, "backend": get_key_service().name},
        )
        raise


def _clean_reason(reason: str) -> str:
    """Printable, single-spaced text (no NULs or control characters reach the database)."""
    text = str(reason or "")[:1000]
    # isprintable: no character of category C or Z but the ASCII space, which maps to itself.
    printable = (
        text
        if text.isprintable()
        else "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    )
    cleaned = " ".join(printable.split())
    if not cleaned:
        raise InvalidReason("Say why, in a few words.")
    if len(cleaned) > REASON_MAX_LENGTH:
        raise InvalidReason(f"Keep the reason under {REASON_MAX_LENGTH} characters.")
    return cleaned


def token_create(*, merchant: Merchant, card: Card, deduplicate: bool = False, actor: str) -> Token:
    """Seal ``card`` (a validated ``vault.cards.Card``; its CVC is dropped) into a new token
    in the merchant's mode. Test mode takes only the public test cards, live mode only others
    (``vault.mode_cards``: ``CardValidationError`` on ``number``).

    With ``deduplicate=True`` the merchant's existing active token for the same card number and
    expiry is returned instead of a new one. KMS calls: one GenerateMac per merchant and one
    GenerateDataKey per ``DATA_KEY_MAX_USES`` cards, each per ``DATA_KEY_MAX_AGE_SECONDS``
    (plus one GenerateMac per de-duplicating create while the merchant still has version 1
    fingerprints). Inside a caller's transaction it adds no commit of its own.
    """
    if not merchant.is_active:
        raise MerchantInactive()
    # Test cards in test mode, real cards in live mode: refused before any KMS call or write.
    card_mode_check(number=card.number, livemode=merchant.acting_livemode())
    token_id = new_id("tok")
    with key_failures_audited(operation="token_create", actor=actor):
        fingerprint = card_fingerprint(
            merchant_id=merchant.id, livemode=merchant.acting_livemode(), number=card.number
        )
        if deduplicate:
            existing = _token_duplicate(merchant=merchant, card=card, fingerprint=fingerprint)
            if existing is not None:
                return existing
        sealing_key = data_keys.for_sealing(get_key_service())
        # Inside a caller's transaction (the vault ingest) no savepoint: any failure here
        # propagates and the caller's own savepoint decides.
        with transaction.atomic(savepoint=False):
            if deduplicate:
                # Serialise concurrent de-duplicating creates for this merchant, then re-check.
                Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
                existing = _token_duplicate(merchant=merchant, card=card, fingerprint=fingerprint)
                if existing is not None:
                    return existing
            encrypted = card_seal(
                card=card, token_id=token_id, merchant_id=merchant.id, sealing_key=sealing_key
            )
            token = Token(
                id=token_id,
                merchant=merchant,
                livemode=merchant.acting_livemode(),
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                fingerprint=fingerprint,
                fingerprint_version=FINGERPRINT_VERSION,
                card_data=encrypted,
                expires_at=card_expiry_end(exp_month=card.exp_month, exp_year=card.exp_year),
            )
            row_insert(token)  # one per card: the statement is compiled once
            return token


def _token_duplicate(*, merchant: Merchant, card: Card, fingerprint: str) -> Token | None:
    fingerprints = Q(fingerprint=fingerprint, fingerprint_version=FINGERPRINT_VERSION)
    older = Token.objects.owned_by(merchant).filter(
        status=Token.Status.ACTIVE, fingerprint_version=1
    )
    if older.exists():  # not re-keyed yet: compare in their version too
        v1 = fingerprint_v1(merchant_id=merchant.id, number=card.number)
        fingerprints |= Q(fingerprint=v1, fingerprint_version=1)
    return (
        Token.objects.owned_by(merchant)
        .filter(
            fingerprints,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            status=Token.Status.ACTIVE,
        )
        .order_by("created_at", "id")
        .first()
    )


def token_reveal(*, token: Token, purpose: str, actor: str) -> RevealedCard:
    """Decrypt the card behind ``token`` for ``purpose`` (e.g. ``"charge:ch_…"``). Audited.

    Refuses revoked and expired tokens (``TokenRevoked``, ``TokenExpired``); a ciphertext that
    does not authenticate raises ``KeyDecryptionFailed``. Only the processor adapter calls this.
    A ``token`` loaded with its card row and data key (``token_card_loaded``) is not read again:
    the conditional UPDATE that marks its use is the check that it still holds that card, so a
    revocation committed since it was read refuses the reveal all the same.
    """
    purpose = _clean_reason(purpose)
    current = token if token_card_loaded(token) else _token_with_card(token.pk)
    if current is None:
        raise TokenNotFound()
    refusal = _reveal_refusal(current)
    if refusal is None:
        assert current.card_data is not None  # noqa: S101 - narrowed by _reveal_refusal
        with key_failures_audited(operation="token_reveal", actor=actor, object_id=current.id):
            secret = card_open(
                encrypted=current.card_data, token_id=current.id, merchant_id=current.merchant_id
            )
        now = timezone.now()
        used = row_update(
            Token,
            where={
                "pk": current.pk,
                "status": Token.Status.ACTIVE,
                "card_data_id": current.card_data_id,
            },
            values={"last_used_at": now},
        )
        if not used:  # revoked since it was read: refused, for the reason the row gives now
            fresh = _token_with_card(current.pk)
            refusal = (_reveal_refusal(fresh) if fresh else None) or TokenRevoked()
    if refusal is not None:
        audit_record(
            action="token.reveal",
            outcome=AuditEvent.Outcome.DENIED,
            actor=actor,
            object_type="token",
            object_id=current.id,
            reason=refusal.code,
            data={"purpose": purpose},
        )
        raise refusal
    token.last_used_at = now
    audit_record(
        action="token.reveal",
        actor=actor,
        object_type="token",
        object_id=current.id,
        reason=purpose[:100],
        data={"purpose": purpose, "merchant": current.merchant_id},
    )
    return RevealedCard(
        token_id=current.id,
        brand=current.brand,
        last4=current.last4,
        number=secret.number,
        exp_month=secret.exp_month,
        exp_year=secret.exp_year,
        name=secret.name,
    )


def token_card_loaded(token: Token) -> bool:
    """Whether ``token`` was loaded with its card row and that row's data key (a reveal
    needs no query to read them)."""
    if "card_data" not in token._state.fields_cache:
        return False
    card = token.card_data
    return card is None or "data_key" in card._state.fields_cache


def _token_with_card(token_id: str) -> Token | None:
    return Token.objects.select_related("card_data__data_key").filter(pk=token_id).first()


def _reveal_refusal(token: Token) -> DomainError | None:
    if token.status == Token.Status.REVOKED or token.card_data is None:
        return TokenRevoked()
    if token.expires_at <= timezone.now():
        return TokenExpired()
    return None


def token_revoke(*, token: Token, actor: str, reason: str) -> Token:
    """Crypto-shred the card (delete its ciphertext row), keep the metadata, audit, and
    publish ``TokenRevoked`` (heard once the revocation is committed).

    Idempotent: revoking a revoked token changes nothing and returns it.
    """
    reason = _clean_reason(reason)
    with transaction.atomic():
        current = Token.objects.select_for_update().filter(pk=token.pk).first()
        if current is None:
            raise TokenNotFound()
        effect_bind(current.pk)
        if current.status == Token.Status.REVOKED:
            return current
        card_row_id = current.card_data_id
        current.status = Token.Status.REVOKED
        current.card_data = None
        current.revoked_at = timezone.now()
        current.revoked_by = actor[:200]
        current.revoked_reason = reason
        current.save(
            update_fields=["status", "card_data", "revoked_at", "revoked_by", "revoked_reason"]
        )
        if card_row_id is not None:
            EncryptedCard.objects.filter(pk=card_row_id).delete()
        audit_record(
            action="token.revoke",
            actor=actor,
            object_type="token",
            object_id=current.id,
            reason=reason[:100],
            data={"merchant": current.merchant_id},
        )
        publish(
            events.TokenRevoked(token_id=current.id, merchant_id=current.merchant_id, reason=reason)
        )
    for name in ("status", "card_data", "revoked_at", "revoked_by", "revoked_reason"):
        setattr(token, name, getattr(current, name))
    return current


def tokens_purge_expired(
    *, now: dt.datetime | None = None, batch_size: int = 500, actor: str = "system:purge"
) -> int:
    """Revoke (and so shred) every active token whose card has expired. Returns how many."""
    now = now or timezone.now()
    purged = 0
    while True:
        batch = list(
            Token.objects.filter(status=Token.Status.ACTIVE, expires_at__lte=now)
            .order_by("expires_at", "id")
            .only("id")[:batch_size]
        )
        if not batch:
            return purged
        for token in batch:
            token_revoke(token=token, actor=actor, reason="card_expired")
            purged += 1


# --- key rotation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RewrapProgress:
    done: int
    total: int


def data_keys_rewrap(
    *,
    actor: str,
    batch_size: int = 100,
    restart: bool = False,
    progress: Callable[[RewrapProgress], None] | None = None,
) -> RewrapRun:
    """Re-wrap every data key under the current VAULT key version: one KMS ReEncrypt per data
    key, card ciphertexts untouched. Resumes an unfinished run unless ``restart``."""
    key_service = get_key_service()
    run = RewrapRun.objects.filter(finished_at__isnull=True).first()
    if run is None or restart:
        RewrapRun.objects.filter(finished_at__isnull=True).update(finished_at=timezone.now())
        run = RewrapRun.objects.create(started_at=timezone.now(), started_by=actor[:200])
        audit_record(
            action="key.rewrap.start", actor=actor, object_type="rewrap_run", object_id=str(run.pk)
        )
    pending = DataKey.objects.filter(wrapped_at__lt=run.started_at)
    total = run.rewrapped + pending.count()
    if progress:
        progress(RewrapProgress(run.rewrapped, total))
    while True:
        with key_failures_audited(operation="rewrap", actor=actor), transaction.atomic():
            batch = list(pending.select_for_update(skip_locked=True).order_by("id")[:batch_size])
            if not batch:
                break
            for data_key in batch:
                rewrapped = key_service.reencrypt_data_key(
                    wrapped=bytes(data_key.wrapped),
                    key_id=data_key.kms_key_id,
                    context=data_key_context(data_key.id),
                )
                data_key.wrapped = rewrapped.wrapped
                data_key.kms_key_id = rewrapped.key_id
                data_key.kms_key_version = rewrapped.key_version
                data_key.wrapped_at = timezone.now()
                data_key.save(
                    update_fields=["wrapped", "kms_key_id", "kms_key_version", "wrapped_at"]
                )
                VaultKeyVersion.objects.get_or_create(
                    key_id=rewrapped.key_id, key_version=rewrapped.key_version
                )
            RewrapRun.objects.filter(pk=run.pk).update(rewrapped=run.rewrapped + len(batch))
            run.rewrapped += len(batch)
        if progress:
            progress(RewrapProgress(run.rewrapped, total))
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at"])
    audit_record(
        action="key.rewrap",
        actor=actor,
        object_type="rewrap_run",
        object_id=str(run.pk),
        data={"rewrapped": run.rewrapped},
    )
    return run


def vault_key_rotate(*, actor: str) -> str:
    """Make a new VAULT key version current (local: new version; KMS: RotateKeyOnDemand)."""
    with key_failures_audited(operation="rotate", actor=actor):
        version = get_key_service().rotate_key(KeyPurpose.VAULT)
    data_keys.clear()  # seal new cards under the new version from now on
    audit_record(
        action="key.rotate",
        actor=actor,
        object_type="key",
        object_id="vault",
        data={"version": version},
    )
    return version


def vault_key_version_retire(*, key_id: str, key_version: str, actor: str) -> VaultKeyVersion:
    """Retire a VAULT key version once no data key depends on it; on the local backend its
    material is destroyed. Refuses (``KeyVersionInUse``) while any data key still uses it."""
    with transaction.atomic():
        version, _ = VaultKeyVersion.objects.select_for_update().get_or_create(
            key_id=key_id, key_version=key_version
        )
        in_use = DataKey.objects.filter(kms_key_id=key_id, kms_key_version=key_version).count()
        if in_use:
            raise KeyVersionInUse(
                f"{in_use} data key(s) are still wrapped under this version: "
                "run rewrap_data_keys first."
            )
        try:
            destroyed = get_key_service().retire_vault_key_version(
                key_id=key_id, key_version=key_version
            )
        except ValueError as error:
            raise KeyVersionInUse(str(error)) from error
        if version.retired_at is None:
            version.retired_at = timezone.now()
            version.save(update_fields=["retired_at"])
        audit_record(
            action="key.retire",
            actor=actor,
            object_type="key_version",
            object_id=f"{key_id}#{key_version}"[:100],
            data={"material_destroyed": destroyed},
        )
    return version


def fingerprints_rekey(*, actor: str, batch_size: int = 200) -> int:
    """Move version 1 fingerprints to the current version: each card is opened in memory
    (data keys cached, no reveal to anyone) and fingerprinted under its merchant's subkey.
    Tokens without ciphertext (revoked, purged) keep version 1: nothing de-duplicates against
    them. Each token announces ``TokenFingerprintRekeyed`` in its batch's transaction (a saved
    card's copy of the fingerprint follows). Resumable and safe to run while traffic flows;
    returns how many were re-keyed."""
    done = 0
    pending = Token.objects.filter(fingerprint_version=1, card_data__isnull=False)
    while True:
        with key_failures_audited(operation="fingerprint_rekey", actor=actor), transaction.atomic():
            batch = list(
                pending.select_for_update(skip_locked=True)
                .select_related("card_data__data_key")
                .order_by("id")[:batch_size]
            )
            if not batch:
                break
            for token in batch:
                encrypted = token.card_data
                if encrypted is None:  # revoked since the query ran
                    continue
                secret = card_open(
                    encrypted=encrypted, token_id=token.id, merchant_id=token.merchant_id
                )
                token.fingerprint = card_fingerprint(
                    merchant_id=token.merchant_id, livemode=token.livemode, number=secret.number
                )
                token.fingerprint_version = FINGERPRINT_VERSION
                token.save(update_fields=["fingerprint", "fingerprint_version"])
                publish(
                    events.TokenFingerprintRekeyed(token_id=token.id, merchant_id=token.merchant_id)
                )
            done += len(batch)
    if done:
        audit_record(
            action="token.fingerprints_rekey",
            actor=actor,
            object_type="token",
            data={"rekeyed": done, "version": FINGERPRINT_VERSION},
        )
    return done
