"""Services for merchants and API keys."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from monitoring.audit.services import audit_record
from payments_site.kernel.errors import DomainError
from payments_site.kernel.events import publish
from payments_site.kernel.ids import base62
from payments_site.kernel.rows import PreparedQuery, row_update

from .events import MerchantReactivated
from .models import ApiKey, Merchant

KEY_BYTES = 32  # 256 bits; the brief asks for at least 192.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key: ``secret`` exists only in this object and is shown once."""

    api_key: ApiKey
    secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@transaction.atomic
def merchant_create(*, name: str, actor: str = "system") -> Merchant:
    merchant = Merchant.objects.create(name=name.strip())
    audit_record(
        action="merchant.create", actor=actor, object_type="merchant", object_id=merchant.id
    )
    return merchant


class MerchantSuspended(DomainError):
    code = "merchant_suspended"

    def __init__(self) -> None:
        super().__init__(
            "This account is suspended: it can read its data but not move money or change "
            "anything. Contact support."
        )


@transaction.atomic
def merchant_suspend(*, merchant: Merchant, actor: str, reason: str = "") -> Merchant:
    """Stop every money movement of ``merchant`` at once: its API writes are refused (reads
    keep working), its hosted pages take no card, billing skips its renewals and dunning.
    Audited; suspending a suspended merchant changes nothing."""
    if Merchant.objects.filter(pk=merchant.pk, is_active=True).update(is_active=False):
        audit_record(
            action="merchant.suspend",
            actor=actor,
            object_type="merchant",
            object_id=merchant.pk,
            reason=reason[:100],
        )
    merchant.is_active = False
    return merchant


@transaction.atomic
def merchant_reactivate(*, merchant: Merchant, actor: str, reason: str = "") -> Merchant:
    """Undo ``merchant_suspend``; billing resumes (``MerchantReactivated``). Audited."""
    if Merchant.objects.filter(pk=merchant.pk, is_active=False).update(is_active=True):
        audit_record(
            action="merchant.reactivate",
            actor=actor,
            object_type="merchant",
            object_id=merchant.pk,
            reason=reason[:100],
        )
        publish(MerchantReactivated(merchant_id=merchant.pk))
    merchant.is_active = True
    return merchant


@transaction.atomic
def api_key_create(
    *, merchant: Merchant, mode: str = ApiKey.Mode.TEST, label: str = "", actor: str = "system"
) -> IssuedKey:
    secret = f"sk_{mode}_{base62(KEY_BYTES)}"
    api_key = ApiKey.objects.create(
        merchant=merchant,
        mode=mode,
        label=label,
        prefix=secret[:12],
        secret_hash=hash_secret(secret),
    )
    audit_record(
        action="api_key.create",
        actor=actor,
        object_type="api_key",
        object_id=api_key.id,
        data={"merchant": merchant.id, "mode": mode},
    )
    return IssuedKey(api_key=api_key, secret=secret)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: str) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(
            action="api_key.revoke", actor=actor, object_type="api_key", object_id=api_key.id
        )
    return api_key


# On every API request: compiled once (the secret hash is unique).
_KEY_BY_HASH = PreparedQuery(
    ApiKey,
    lambda *, digest: ApiKey.objects.select_related("merchant").filter(
        secret_hash=digest, revoked_at__isnull=True
    ),
)


def api_key_lookup(*, secret: str) -> ApiKey | None:
    """The unrevoked key for ``secret``, or None. Marks it used at most once a minute. A
    suspended merchant's keys still authenticate: its reads work, its writes are refused
    (``authentication.SuspendedMerchantReadOnly``)."""
    if not secret.startswith(("sk_test_", "sk_live_")) or len(secret) > 100:
        return None
    digest = hash_secret(secret)
    api_key: ApiKey | None = _KEY_BY_HASH.one(digest=digest)
    # The lookup is by hash; this comparison only guards against a non-constant-time index.
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, digest):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        row_update(ApiKey, where={"pk": api_key.pk}, values={"last_used_at": now})
        api_key.last_used_at = now
    return api_key
