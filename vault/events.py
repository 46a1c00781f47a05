"""What the vault announces once committed (``payments_site.kernel.events``)."""

from __future__ import annotations

from dataclasses import dataclass

from payments_site.kernel.events import DomainEvent


@dataclass(frozen=True)
class MerchantReactivated(DomainEvent):
    """A suspended merchant may move money again (billing resumes its schedules)."""

    merchant_id: str


@dataclass(frozen=True)
class TokenRevoked(DomainEvent):
    """A token's card was crypto-shredded; ``reason`` is the cleaned, card-free reason."""

    token_id: str
    merchant_id: str
    reason: str


@dataclass(frozen=True)
class TokenFingerprintRekeyed(DomainEvent):
    """A token's fingerprint moved to the current version (``rekey_fingerprints``); heard
    inside the re-keying transaction, so a copy of the fingerprint elsewhere moves with it."""

    token_id: str
    merchant_id: str
