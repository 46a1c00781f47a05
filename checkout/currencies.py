"""ISO 4217 currencies and their minor units.

Amounts cross the API as positive integers in the currency's minor unit (cents for USD, yen for
JPY, fils for KWD), so the API never rounds. Only circulating national currencies are
accepted: fund codes (CLF, UYW…), precious metals and the X-testing codes have no card use.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from babel import Locale
from babel.numbers import parse_pattern
from django.conf import settings
from django.utils import translation

from payments_site.kernel.errors import FieldError, InvalidInput

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
    "GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR "
    "LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD "
    "PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VED VES WST XCD XCG YER ZAR "
    "ZMW ZWG"
)

MINOR_UNITS: Final[dict[str, int]] = {
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_THREE.split(), 3),
}
CURRENCY_CODES: Final[tuple[str, ...]] = tuple(sorted(MINOR_UNITS))


def currency_minor_units(code: str) -> int:
    """Digits after the decimal point: 2 for EUR, 0 for JPY, 3 for KWD."""
    return MINOR_UNITS[code.upper()]


def currency_normalize(code: str, *, field: str = "currency") -> str:
    """``"eur"`` → ``"EUR"``; an unknown code raises a field error naming ``field``."""
    upper = code.strip().upper() if isinstance(code, str) else ""
    if upper not in MINOR_UNITS:
        raise InvalidInput(
            "Use a three-letter ISO 4217 currency code such as EUR or USD.",
            errors=[
                FieldError(field, "invalid_currency", "This is not a supported ISO 4217 currency.")
            ],
        )
    return upper


def amount_format(*, amount: int, currency: str, locale: str | None = None) -> str:
    """A minor-unit amount the way a shopper reads it in ``locale`` (default: the active
    language): ``1050 EUR`` → "€10.50" (en), "10,50 €" (fr, de); ``500 JPY`` → "¥500".

    Babel supplies the CLDR symbol, order and separators; the number of decimals is ISO
    4217's (``MINOR_UNITS``), which is what the amount's minor unit means.
    """
    digits = currency_minor_units(currency)
    language = locale or translation.get_language() or settings.LANGUAGE_CODE
    babel_locale = Locale.parse(translation.to_locale(language))
    pattern = parse_pattern(babel_locale.currency_formats["standard"].pattern)
    pattern.frac_prec = (digits, digits)
    value = Decimal(amount).scaleb(-digits)
    return pattern.apply(value, babel_locale, currency=currency, currency_digits=False)
