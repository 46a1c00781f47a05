"""``metadata``: the merchant's own key-value pairs on every object it creates, checked once.

Stripe's limits (50 keys, keys up to 40 characters, values up to 500, strings only) and the
card detector on keys and values: a merchant pasting a card number there would otherwise put
a PAN in our database in clear.
"""

from __future__ import annotations

from .cards import has_card_data
from .errors import FieldError, InvalidInput

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500
CARD_DATA_MESSAGE = "Card numbers are not allowed here. Use a token."


def metadata_validate(value: object, *, field: str = "metadata") -> dict[str, str]:
    """``value`` as metadata, or ``InvalidInput`` naming ``field``. The offending key is never
    echoed back: it could itself be the card number."""

    def fail(code: str, message: str) -> InvalidInput:
        return InvalidInput(message, errors=[FieldError(field, code, message)])

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail("invalid", "Give an object of string keys and string values.")
    if len(value) > MAX_KEYS:
        raise fail("too_many_keys", f"At most {MAX_KEYS} keys.")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise fail("invalid", "Keys and values must be strings.")
        if not key or len(key) > MAX_KEY_LENGTH:
            raise fail("invalid_key", f"Keys must be 1 to {MAX_KEY_LENGTH} characters.")
        if len(item) > MAX_VALUE_LENGTH:
            raise fail("value_too_long", f"Values must be at most {MAX_VALUE_LENGTH} characters.")
    if any(has_card_data(key) or has_card_data(item) for key, item in value.items()):
        raise fail("card_data_not_allowed", CARD_DATA_MESSAGE)
    return dict(value)
