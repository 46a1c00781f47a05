"""Customers and their saved cards: create, change, delete; attach, detach, choose the default.

Each write locks the customer row for its transaction, so the writes of one customer happen
one after the other on any number of servers; unique constraints on ``CustomerCard`` hold the
rules (a token saved once, a card once per customer, one default card) even where there are no
row locks. Every write binds its effect (``effect_bind``) and is announced once committed.

Deleting a customer erases its personal data, detaches and revokes every card it has (the
vault crypto-shreds them) and announces ``CustomerDeleted``, on which billing cancels its
subscriptions; the row stays, so what pointed at it still does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from checkout.clock import clock_now
from checkout.customers.errors import (
    CustomerCardNotFound,
    CustomerCardRefused,
    CustomerNotFound,
    CustomerUnusable,
)
from checkout.customers.events import (
    CustomerCardAttached,
    CustomerCardDetached,
    CustomerCreated,
    CustomerDeleted,
    CustomerUpdated,
)
from checkout.customers.models import Customer, CustomerCard
from checkout.customers.selectors import customer_default_token_id
from checkout.payments.tokens import token_refusal
from checkout.payments.validation import CARD_DATA_MESSAGE, text_validate
from monitoring.audit.services import audit_record
from payments_site.kernel.cards import has_card_data
from payments_site.kernel.errors import FieldError, InvalidInput
from payments_site.kernel.events import publish
from payments_site.kernel.idempotency import effect_bind
from vault.events import TokenFingerprintRekeyed
from vault.models import Merchant, Token
from vault.services import token_revoke

logger = logging.getLogger(__name__)

REFUSALS = {
    "token_not_found": "No such token for this merchant.",
    "token_revoked": "This token has been revoked; its card cannot be saved.",
    "token_expired": "The card behind this token has expired.",
    "token_attached_elsewhere": "This token is saved to another customer.",
}


def _refused(code: str) -> CustomerCardRefused:
    return CustomerCardRefused(code, REFUSALS[code])


@dataclass(frozen=True)
class Attached:
    """A card after ``customer_card_attach``: ``created`` is false when the customer had the
    token already, or the same card under another token (then ``card`` is that one)."""

    card: CustomerCard
    created: bool


def _personal_validate(*, name: str | None, email: str | None) -> None:
    errors = []
    if name is not None and has_card_data(name):
        errors.append(FieldError("name", "card_data_not_allowed", CARD_DATA_MESSAGE))
    if email:
        try:
            validate_email(email)
        except ValidationError:
            # The address is not echoed: it is personal data, and messages end up in logs.
            errors.append(FieldError("email", "invalid_email", "Enter a valid email address."))
    if errors:
        raise InvalidInput(errors=errors)


def customer_create(
    *,
    merchant: Merchant,
    actor: str,
    name: str = "",
    email: str = "",
    description: str = "",
    metadata: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Customer:
    metadata = dict(metadata or {})
    _personal_validate(name=name, email=email)
    text_validate(description=description, metadata=metadata)
    now = clock_now(now)
    with transaction.atomic():
        customer = Customer.objects.create(
            merchant=merchant,
            livemode=merchant.acting_livemode(),
            name=name,
            email=email,
            description=description,
            metadata=metadata,
            created_at=now,
        )
        effect_bind(customer.pk)
        _audit("customer.create", customer=customer, actor=actor)
        publish(CustomerCreated(customer_id=customer.pk, merchant_id=merchant.pk))
    return customer


def customer_usable(*, merchant: Merchant, customer_id: str) -> Customer:
    """The customer a request body names (a checkout session's ``customer``): the merchant's,
    in its mode, not deleted; else ``CustomerUnusable`` (422) on ``customer``."""
    customer = (
        Customer.objects.owned_by(merchant).filter(pk=customer_id, deleted_at__isnull=True).first()
    )
    if customer is None:
        raise CustomerUnusable("customer_not_found", "No such customer for this merchant.")
    return customer


def customer_card_for_billing(
    *, merchant: Merchant, customer_id: str, token_id: str | None
) -> tuple[Customer, str]:
    """The customer a subscription (or a checkout) names, locked for the caller's transaction,
    and the token to start with: ``token_id`` if it is one of the customer's cards, else the
    customer's default card. Refused (422, ``CustomerUnusable``) when the customer is unknown
    or deleted, the token is not its card, or it has no default card to fall back on."""
    try:
        customer = _customer_locked(merchant=merchant, customer_id=customer_id)
    except CustomerNotFound as exc:
        raise CustomerUnusable("customer_not_found", "No such customer for this merchant.") from exc
    if token_id is not None:
        if _card_attached(customer=customer, token_id=token_id) is None:
            raise CustomerUnusable(
                "not_a_customer_card",
                "This token is not one of the customer's cards: attach it first.",
                field="token",
            )
        return customer, token_id
    default = customer_default_token_id(customer)
    if default is None:
        raise CustomerUnusable(
            "customer_no_default_card",
            "This customer has no default card: attach one, or give a token.",
        )
    return customer, default


def customer_get(*, merchant: Merchant, customer_id: str) -> Customer:
    """The merchant's customer in its mode, deleted ones too (they answer ``deleted: true``);
    another merchant's, or one of the other mode, is ``CustomerNotFound`` like a missing one."""
    customer = Customer.objects.owned_by(merchant).filter(pk=customer_id).first()
    if customer is None:
        raise CustomerNotFound()
    return customer


def _customer_locked(*, merchant: Merchant, customer_id: str, field: str = "") -> Customer:
    """The merchant's customer, not deleted, locked for the caller's transaction; else 404."""
    customer = (
        Customer.objects.owned_by(merchant)
        .select_for_update()
        .filter(pk=customer_id, deleted_at__isnull=True)
        .first()
    )
    if customer is None:
        raise CustomerNotFound(field=field)
    return customer


def customer_update(
    *,
    merchant: Merchant,
    customer_id: str,
    actor: str,
    name: str | None = None,
    email: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, str] | None = None,
    default_token: str | None = None,
    now: datetime | None = None,
) -> Customer:
    """Change what is given. ``metadata`` is merged as Stripe does: each key given is set, and
    a key given an empty value is removed. ``default_token`` must be one of its cards."""
    _personal_validate(name=name, email=email)
    text_validate(description=description or "", metadata=metadata or {})
    now = clock_now(now)
    with transaction.atomic():
        customer = _customer_locked(merchant=merchant, customer_id=customer_id)
        effect_bind(customer.pk)
        fields: list[str] = []
        for field, value in (("name", name), ("email", email), ("description", description)):
            if value is not None and getattr(customer, field) != value:
                setattr(customer, field, value)
                fields.append(field)
        if metadata is not None:
            merged = {**customer.metadata, **metadata}
            merged = {key: value for key, value in merged.items() if value != ""}
            if merged != customer.metadata:
                customer.metadata = merged
                fields.append("metadata")
        if fields:
            customer.save(update_fields=fields)
        if default_token is not None:
            card = _card_attached(customer=customer, token_id=default_token)
            if card is None:
                raise CustomerCardRefused(
                    "not_a_customer_card",
                    "Make one of this customer's cards the default: attach the token first.",
                    field="default_token",
                )
            if _default_set(customer=customer, card=card):
                fields.append("default_token")
        if fields:
            # Field names only: the values (a name, an address) are personal data.
            _audit("customer.update", customer=customer, actor=actor, data={"fields": fields})
            publish(CustomerUpdated(customer_id=customer.pk, merchant_id=merchant.pk))
    return customer


def customer_delete(*, merchant: Merchant, customer_id: str, actor: str) -> Customer:
    """Delete for good: personal data erased, every card detached and revoked (its ciphertext
    destroyed), subscriptions canceled by billing on ``CustomerDeleted``. Deleting a deleted
    customer returns it unchanged."""
    now = clock_now()
    with transaction.atomic():
        customer = (
            Customer.objects.owned_by(merchant).select_for_update().filter(pk=customer_id).first()
        )
        if customer is None:
            raise CustomerNotFound()
        effect_bind(customer.pk)
        if customer.deleted:
            return customer
        # Announced first: its subscriptions are canceled before anyone hears of the
        # revoked cards (which would otherwise make them past due on the way).
        publish(CustomerDeleted(customer_id=customer.pk, merchant_id=merchant.pk))
        cards = list(
            CustomerCard.objects.owned_by(merchant)
            .select_for_update()
            .select_related("token")
            .filter(customer=customer, detached_at__isnull=True)
            .order_by("pk")
        )
        for card in cards:
            _detach(card, customer=customer, actor=actor, reason="customer deleted", now=now)
        customer.name = customer.email = customer.description = ""
        customer.metadata = {}
        customer.deleted_at = now
        customer.save(update_fields=["name", "email", "description", "metadata", "deleted_at"])
        revoked = {"cards_revoked": len(cards)}
        _audit("customer.delete", customer=customer, actor=actor, data=revoked)
    return customer


def customer_card_attach(
    *,
    merchant: Merchant,
    customer_id: str,
    token_id: str,
    actor: str,
    default: bool = False,
    now: datetime | None = None,
) -> Attached:
    """Save the merchant's token to the customer. The same card (fingerprint) saved again,
    under any token, is the card saved first: that one is returned and the customer keeps one
    card. A customer without a default card gets this one as its default; ``default=True``
    makes it the default in any case. A token saved to another customer is refused."""
    now = clock_now(now)
    with transaction.atomic():
        customer = _customer_locked(merchant=merchant, customer_id=customer_id)
        token = Token.objects.owned_by(merchant).select_for_update().filter(pk=token_id).first()
        if token is None:
            raise _refused("token_not_found")
        refusal = token_refusal(token=token, now=now)
        if refusal:
            raise _refused(refusal)
        linked = CustomerCard.objects.owned_by(merchant).filter(token=token).first()
        if linked is not None and linked.customer_id != customer.pk:
            raise _refused("token_attached_elsewhere")
        card = linked or (
            CustomerCard.objects.owned_by(merchant)
            .filter(customer=customer, fingerprint=token.fingerprint, detached_at__isnull=True)
            .first()
        )
        created = card is None
        if card is None:
            try:
                with transaction.atomic():
                    card = CustomerCard.objects.create(
                        merchant=merchant,
                        livemode=customer.livemode,
                        customer=customer,
                        token=token,
                        fingerprint=token.fingerprint,
                        attached_at=now,
                    )
            except IntegrityError as exc:  # only without row locks: saved meanwhile elsewhere
                raise _refused("token_attached_elsewhere") from exc
        effect_bind(card.token_id)
        has_default = CustomerCard.objects.owned_by(merchant).filter(
            customer=customer, is_default=True
        )
        became_default = (default or not has_default.exists()) and _default_set(
            customer=customer, card=card
        )
        if created:
            _audit("customer.card_attach", customer=customer, actor=actor, data={"token": token.pk})
            publish(
                CustomerCardAttached(
                    customer_id=customer.pk, merchant_id=merchant.pk, token_id=token.pk
                )
            )
        if became_default:
            publish(CustomerUpdated(customer_id=customer.pk, merchant_id=merchant.pk))
    return Attached(card=card, created=created)


def customer_cards_on_fingerprint_rekeyed(event: TokenFingerprintRekeyed) -> int:
    """Subscribed in the re-keying transaction to the vault's ``TokenFingerprintRekeyed``: the
    saved card's copy of the fingerprint becomes the token's new one, so the same card saved
    again (under a token made since, in the new version) is still found. A customer that got
    the card twice before the re-key (one copy per version, which could not match) keeps both:
    the copy stays as it is, and the duplicate is logged (ids only) for an operator to detach
    one. Returns how many copies moved."""
    card = (
        CustomerCard.objects.select_related("token")
        .filter(token_id=event.token_id, token__merchant_id=event.merchant_id)
        .first()
    )
    if card is None or card.fingerprint == card.token.fingerprint:
        return 0
    twin = (
        CustomerCard.objects.filter(
            customer_id=card.customer_id,
            fingerprint=card.token.fingerprint,
            detached_at__isnull=True,
        )
        .exclude(pk=card.pk)
        .values_list("token_id", flat=True)
        .first()
    )
    if twin is not None and card.detached_at is None:
        logger.warning(
            "customer_card_saved_twice",
            extra={"customer": card.customer_id, "token": card.token_id, "twin": twin},
        )
        return 0
    return CustomerCard.objects.filter(pk=card.pk).update(fingerprint=card.token.fingerprint)


def customer_card_detach(
    *, merchant: Merchant, customer_id: str, token_id: str, actor: str
) -> CustomerCard:
    """Detach a card: like Stripe's detached payment methods it can never be used again, so
    the token is revoked (the card crypto-shredded). If it was the default, the customer has
    none until another card is attached or chosen. Detaching a detached card changes nothing."""
    now = clock_now()
    with transaction.atomic():
        customer = _customer_locked(merchant=merchant, customer_id=customer_id)
        card = (
            CustomerCard.objects.owned_by(merchant)
            .select_for_update()
            .select_related("token")
            .filter(customer=customer, token_id=token_id)
            .first()
        )
        if card is None:
            raise CustomerCardNotFound()
        effect_bind(card.token_id)
        if card.detached_at is not None:
            return card
        was_default = card.is_default
        _detach(card, customer=customer, actor=actor, reason="detached from customer", now=now)
        if was_default:
            publish(CustomerUpdated(customer_id=customer.pk, merchant_id=merchant.pk))
    return card


def _detach(
    card: CustomerCard, *, customer: Customer, actor: str, reason: str, now: datetime
) -> None:
    card.detached_at = now
    card.is_default = False
    card.save(update_fields=["detached_at", "is_default"])
    token_revoke(token=card.token, actor=actor, reason=reason)
    _audit("customer.card_detach", customer=customer, actor=actor, data={"token": card.token_id})
    publish(
        CustomerCardDetached(
            customer_id=card.customer_id, merchant_id=customer.merchant_id, token_id=card.token_id
        )
    )


def _card_attached(*, customer: Customer, token_id: str) -> CustomerCard | None:
    return (
        CustomerCard.objects.owned_by(customer.owner)
        .filter(customer=customer, token_id=token_id, detached_at__isnull=True)
        .first()
    )


def _default_set(*, customer: Customer, card: CustomerCard) -> bool:
    """Make ``card`` the customer's default (on the locked customer); False if it was."""
    if card.is_default:
        return False
    CustomerCard.objects.owned_by(customer.owner).filter(customer=customer, is_default=True).update(
        is_default=False
    )
    card.is_default = True
    card.save(update_fields=["is_default"])
    return True


def _audit(
    action: str, *, customer: Customer, actor: str, data: Mapping[str, object] | None = None
) -> None:
    audit_record(
        action=action,
        actor=actor,
        object_type="customer",
        object_id=customer.pk,
        data={"merchant": customer.merchant_id, "livemode": customer.livemode, **(data or {})},
    )
