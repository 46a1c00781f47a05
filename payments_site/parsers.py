"""The API's JSON body parser: DRF's, through the one bounded JSON parser.

DRF's own ``JSONParser`` reads the whole stream (Django's upload cap does not apply to it)
and recurses per nesting level, so a nested body from any valid key was a 500. This one reads
at most ``API_JSON_MAX_BYTES`` and refuses more depth than ``API_JSON_MAX_DEPTH``, each with
its own problem code, and refuses a card number in any field (``card_data_not_allowed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.parsers import BaseParser

from payments_site.kernel.cards import CARD_DATA_MESSAGE, card_data_field
from payments_site.kernel.errors import DomainError, FieldError, InvalidInput
from payments_site.kernel.jsontext import JsonRefused, json_parse


class JsonBodyTooLarge(DomainError):
    code = "request_too_large"


class JsonBodyTooDeep(DomainError):
    code = "json_too_deep"


class JsonBodyMalformed(DomainError):
    code = "malformed_request"


def card_data_refused(field: str) -> InvalidInput:
    """The refusal of free text holding a card number; nothing of the value is repeated."""
    return InvalidInput(
        CARD_DATA_MESSAGE,
        code="card_data_not_allowed",
        errors=[FieldError(field, "card_data_not_allowed", CARD_DATA_MESSAGE)],
    )


class BoundedJSONParser(BaseParser):
    """``application/json`` bodies, bounded in size and depth; duplicates and NaN refused."""

    media_type = "application/json"

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        max_bytes = int(settings.API_JSON_MAX_BYTES)
        data = stream.read(max_bytes + 1) if stream is not None else b""
        try:
            value = json_parse(
                data, max_bytes=max_bytes, max_depth=int(settings.API_JSON_MAX_DEPTH)
            )
        except JsonRefused as exc:
            if exc.reason == "too_large":
                raise JsonBodyTooLarge(
                    str(_("The request body is larger than this API accepts."))
                ) from exc
            if exc.reason == "too_deep":
                raise JsonBodyTooDeep(
                    str(_("The JSON body nests deeper than this API accepts."))
                ) from exc
            raise JsonBodyMalformed(str(_("The request body is not valid JSON."))) from exc
        # No API field takes a card number: one in any of them (keys included) is refused
        # before a serializer, a service or a log line sees it.
        field = card_data_field(value)
        if field is not None:
            raise card_data_refused(field)
        return value
