"""Checks shared by charges and subscriptions: amounts, currencies, and free text that must
never carry card data (a merchant pasting a card number into ``description`` or ``metadata``
would put a PAN in our database in clear)."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

from checkout.currencies import currency_normalize
from payments_site.kernel.cards import has_card_data
from payments_site.kernel.errors import FieldError, InvalidInput
from payments_site.kernel.metadata import CARD_DATA_MESSAGE, metadata_validate

__all__ = ["CARD_DATA_MESSAGE", "amount_validate", "text_validate"]


def amount_validate(*, amount: int, currency: str) -> tuple[int, str]:
    currency = currency_normalize(currency)
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput(
            errors=[FieldError("amount", "invalid", "Give the amount as an integer.")]
        )
    if amount < 1 or amount > settings.CHARGE_MAX_AMOUNT:
        raise InvalidInput(
            "The amount must be a positive integer in the currency's minor unit.",
            errors=[
                FieldError(
                    "amount",
                    "invalid_amount",
                    f"Use an integer from 1 to {settings.CHARGE_MAX_AMOUNT} (minor units).",
                )
            ],
        )
    return amount, currency


def text_validate(*, description: str, metadata: Mapping[str, str]) -> None:
    """Refuse anything that looks like a card number (Luhn-valid 13–19 digit run)."""
    errors = []
    if has_card_data(description):
        errors.append(FieldError("description", "card_data_not_allowed", CARD_DATA_MESSAGE))
    try:
        metadata_validate(dict(metadata))
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if errors:
        raise InvalidInput(CARD_DATA_MESSAGE, errors=errors)
