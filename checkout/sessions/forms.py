"""The hosted page's form: what a browser may post, nothing more.

With JavaScript the page posts ``card_jwe`` (the card encrypted in the browser), ``nonce`` and
the cardholder ``name``; the raw card inputs have no ``name`` attribute then, so they cannot be
posted. Without JavaScript the same form posts ``number``, ``exp`` ("MM / YY") and ``cvc`` over
HTTPS; the view encrypts them at once and forgets them. Cleaned raw values are never put back
into a rendered page.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from checkout.sessions.services import MAX_JWE_LENGTH
from payments_site.kernel.errors import FieldError
from vault.cards import NAME_MAX_LENGTH

_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})?\s*$")
# Compact JWE: five base64url segments.
_COMPACT_JWE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){4}$")

# Card error fields (vault.cards) → the page's inputs.
FIELD_FOR_ERROR = {"number": "number", "exp_month": "exp", "exp_year": "exp", "cvc": "cvc"}

# The card rules (and the API) have an expiry month and year; the page has one field, labelled
# "Expiry date": its messages name that field. Keyed like ``vault.cards.MESSAGES``, so the
# page's script gets the same texts (``rules.messages``) as the server's re-rendered page.
PAGE_CARD_MESSAGES = {
    "month_missing": _("Enter your card's expiry date."),
    "year_missing": _("Enter your card's expiry date."),
    "month_invalid": _("Your card's expiry date is invalid."),
    "year_invalid": _("Your card's expiry date is invalid."),
}
_PAGE_MESSAGE_KEY = {
    ("exp_month", "missing_field"): "month_missing",
    ("exp_year", "missing_field"): "year_missing",
    ("exp_month", "invalid_expiry_month"): "month_invalid",
    ("exp_year", "invalid_expiry_year"): "year_invalid",
}


def page_message(error: FieldError) -> str:
    """A card rule's message as the page words it for the field the shopper sees."""
    key = _PAGE_MESSAGE_KEY.get((error.field, error.code))
    return str(PAGE_CARD_MESSAGES[key] if key else error.message)


def expiry_parse(value: str) -> tuple[str | None, str | None]:
    """ "MM / YY", "MM/YYYY", "MMYY" → (month, year) as typed; (None, None) when unreadable.
    The card rules decide what is valid; this only splits."""
    match = _EXPIRY.match(value or "")
    if not match:
        return None, None
    return match.group(1), match.group(2)


class CheckoutForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX_LENGTH * 2, required=False, strip=True)
    nonce = forms.RegexField(r"^[A-Za-z0-9_]{1,40}$", max_length=40)
    card_jwe = forms.CharField(max_length=MAX_JWE_LENGTH, required=False, strip=True)
    # The no-JavaScript path only.
    number = forms.CharField(max_length=64, required=False, strip=False)
    exp = forms.CharField(max_length=16, required=False)
    cvc = forms.CharField(max_length=8, required=False, strip=False)

    def clean_card_jwe(self) -> str:
        value: str = self.cleaned_data.get("card_jwe", "")
        if value and not _COMPACT_JWE.match(value):
            raise forms.ValidationError("malformed", code="invalid_card_jwe")
        return value

    def raw_card(self) -> dict[str, Any]:
        """The posted card fields, shaped for ``card_validate`` (no-JavaScript path)."""
        month, year = expiry_parse(self.cleaned_data.get("exp", ""))
        return {
            "number": self.cleaned_data.get("number", ""),
            "exp_month": month if month is not None else (self.cleaned_data.get("exp") or None),
            "exp_year": year,
            "cvc": self.cleaned_data.get("cvc", ""),
            "name": self.cleaned_data.get("name", ""),
        }
