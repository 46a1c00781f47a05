"""Body templates: ``{{card.number}}``, ``{{card.exp_month}}``… filled in memory, once.

A template is parsed (and its fields checked against the destination's) before anything is
revealed; filling it is the last step before the bytes go on the wire. Every ``{{…}}`` must be
a known card placeholder, so a typo fails loudly instead of sending the literal text. Values are
escaped for the body's content type (JSON string contents, form encoding), so a cardholder name
with a quote cannot change the document's structure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from payments_site.kernel.errors import FieldError, InvalidInput

from .models import CardField

MAX_TEMPLATE_CHARS = 64 * 1024
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_NAME = re.compile(r"^\s*card\.([a-z0-9_]+)\s*$")
_KNOWN = {choice.value for choice in CardField}


class TemplateInvalid(InvalidInput):
    code = "template_invalid"


@dataclass(frozen=True)
class BodyTemplate:
    """A parsed template: literal text and field names, alternating (text first and last)."""

    parts: tuple[str, ...]
    fields: frozenset[str]


@dataclass(frozen=True)
class CardValues:
    """The revealed card, as the template sees it. Lives for one fill only."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    name: str = field(repr=False)
    last4: str
    brand: str

    def value(self, name: str) -> str:
        if name == CardField.EXP_MONTH:
            return f"{self.exp_month:02d}"
        if name == CardField.EXP_YEAR:
            return f"{self.exp_year:04d}"
        return str(getattr(self, name))


def _fail(code: str, message: str) -> TemplateInvalid:
    return TemplateInvalid(message, code=code, errors=[FieldError("body", code, message)])


def template_parse(text: str) -> BodyTemplate:
    """Split ``text`` into literals and card fields; raises ``TemplateInvalid``
    (``template_placeholder_unknown``, ``template_invalid``)."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise _fail("template_invalid", f"Keep the body under {MAX_TEMPLATE_CHARS} characters.")
    parts: list[str] = []
    names: set[str] = set()
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        named = _NAME.match(match.group(1))
        name = named.group(1) if named else ""
        if name not in _KNOWN:
            hint = (
                " The CVC is never stored, so it cannot be forwarded."
                if name in ("cvc", "cvv", "cvc2", "cvv2")
                else f" Known: {', '.join('{{card.' + n + '}}' for n in sorted(_KNOWN))}."
            )
            raise _fail(
                "template_placeholder_unknown",
                f"{match.group(0)[:60]!s} is not a card placeholder.{hint}",
            )
        parts.extend((text[position : match.start()], name))
        names.add(name)
        position = match.end()
    parts.append(text[position:])
    if "{{" in parts[-1] or any("{{" in p for p in parts[::2]):
        raise _fail("template_invalid", "A {{ placeholder is not closed with }}.")
    return BodyTemplate(parts=tuple(parts), fields=frozenset(names))


def _escape(value: str, content_type: str) -> str:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        return json.dumps(value, ensure_ascii=False)[1:-1]
    if kind == "application/x-www-form-urlencoded":
        return quote_plus(value)
    return value


def template_fill(template: BodyTemplate, *, card: CardValues, content_type: str) -> bytes:
    """The body as sent: every placeholder replaced by the card's value, escaped for
    ``content_type``."""
    out: list[str] = []
    for index, part in enumerate(template.parts):
        out.append(part if index % 2 == 0 else _escape(card.value(part), content_type))
    return "".join(out).encode("utf-8")


__all__ = ["BodyTemplate", "CardValues", "TemplateInvalid", "template_fill", "template_parse"]
