"""Adyen Checkout API v71 behind the processor interface, with raw card data.

Why not Adyen's Python SDK: it is not in our locks, and what we need is five POSTs
(``/payments``, ``/payments/{psp}/captures``, ``…/cancels``, ``…/refunds``) with two headers;
the SDK adds its own HTTP layer, retries and a large model surface without helping with the
parts that matter here (our idempotency keys, mapping result codes, telling a lost answer from
a refusal). The requests and answers are checked against Adyen's published OpenAPI spec in the
test suite instead.

Every call carries ``Idempotency-Key`` derived from our object's id (the charge id, its
``capture_key`` / ``void_key``, the refund id), so a retry after a lost answer is answered by
Adyen with the first result and never moves money twice. ``charge_lookup`` therefore answers
None: the reconcile job re-sends the same request and Adyen replays its first answer — while
Adyen still keeps the key (``idempotency_key_lifetime``); after that the job stops and alerts.

What Adyen's answers become:

- HTTP 200/201: the result (``resultCode`` for payments; ``status: received`` for
  modifications, answered ``pending``: Adyen confirms or refuses them later by notification,
  which ``checkout.payments.notifications`` applies).
- 400 / 422 (a request Adyen refused to process): a decline with ``processing_error``.
- 401 / 403 (credentials or permissions): ``ProcessorUnreachable`` — nothing happened.
- 5xx, a read timeout, a connection dropped after sending: ``ProcessorTimeout`` — the outcome
  is unknown, so the charge stays pending until reconciliation re-sends with the same key.
- A connection that could not be opened: ``ProcessorUnreachable``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from payments_site.kernel.jsontext import JsonRefused, json_parse

from .base import (
    Processor,
    ProcessorCapture,
    ProcessorCard,
    ProcessorCharge,
    ProcessorRefund,
    ProcessorTimeout,
    ProcessorUnreachable,
    ProcessorVoid,
)

logger = logging.getLogger(__name__)

TEST_ENDPOINT_HOSTS = frozenset({"checkout-test.adyen.com"})
USER_AGENT = "Tessera/1.0 (Adyen Checkout v71)"

# Adyen's refusalReasonCode (docs.adyen.com/development-resources/refusal-reasons) → ours.
REFUSAL_CODES: dict[str, str] = {
    "2": "card_declined",  # Refused
    "3": "card_declined",  # Referral
    "4": "processing_error",  # Acquirer Error
    "5": "card_declined",  # Blocked Card
    "6": "expired_card",  # Expired Card
    "7": "invalid_amount",  # Invalid Amount
    "8": "incorrect_number",  # Invalid Card Number
    "9": "processing_error",  # Issuer Unavailable
    "10": "card_not_supported",  # Not supported
    "11": "authentication_required",  # 3D Not Authenticated
    "12": "insufficient_funds",  # Not enough balance
    "14": "fraudulent",  # Acquirer Fraud
    "15": "card_declined",  # Cancelled
    "16": "card_declined",  # Shopper Cancelled
    "17": "incorrect_pin",  # Invalid Pin
    "18": "pin_try_exceeded",  # Pin tries exceeded
    "20": "fraudulent",  # FRAUD
    "21": "processing_error",  # Not Submitted
    "22": "fraudulent",  # FRAUD-CANCELLED
    "23": "transaction_not_allowed",  # Transaction Not Permitted
    "24": "incorrect_cvc",  # CVC Declined
    "25": "restricted_card",  # Restricted Card
    "26": "card_declined",  # Revocation Of Auth
    "27": "card_declined",  # Declined Non Generic
    "28": "card_velocity_exceeded",  # Withdrawal Amount Exceeded
    "29": "card_velocity_exceeded",  # Withdrawal Count Exceeded
    "31": "fraudulent",  # Issuer Suspected Fraud
    "32": "card_declined",  # AVS Declined
    "38": "authentication_required",  # Authentication required
    "42": "processing_error",  # Transaction timeout
    "46": "processing_error",  # Token not configured
}
FAILURE_MESSAGES: dict[str, str] = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
    "expired_card": "The card has expired.",
    "incorrect_cvc": "The card's security code is incorrect.",
    "incorrect_number": "The card number is incorrect.",
    "processing_error": "An error occurred while processing the card. Try again.",
    "authentication_required": (
        "The card's issuer asks for 3-D Secure authentication, which this integration does "
        "not offer yet. Nothing was charged."
    ),
    "fraudulent": "The card was declined.",
}
# resultCodes that need the shopper (3-D Secure, a redirect): refused for now, never success.
SHOPPER_ACTION_CODES = frozenset(
    {"RedirectShopper", "ChallengeShopper", "IdentifyShopper", "PresentToShopper"}
)
# resultCodes whose final outcome comes later: the answer is treated as lost.
UNSETTLED_CODES = frozenset({"Pending", "Received"})


def endpoint_is_test(endpoint: str) -> bool:
    return (urlsplit(endpoint).hostname or "") in TEST_ENDPOINT_HOSTS


class AdyenProcessor(Processor):
    """Options (or the ``ADYEN_*`` settings of the mode): ``endpoint`` (…/v71), ``api_key``,
    ``merchant_account``, ``timeout``, ``ca_bundle``, ``return_url``."""

    name = "adyen"
    settings_name = "ADYEN_TEST"
    live = False
    # Adyen's API idempotency guide keeps a key for "a minimum period" after first submission:
    # 31 days today, 7 in its earlier text; a re-send later than that may be a second payment,
    # so we count on the shorter.
    idempotency_key_lifetime = timedelta(days=7)

    def __init__(self, **options: Any) -> None:
        configured = dict(getattr(settings, self.settings_name))
        configured.update(options)
        super().__init__(**configured)
        missing = [k for k in ("endpoint", "api_key", "merchant_account") if not configured.get(k)]
        if missing:
            raise ImproperlyConfigured(
                f"{type(self).__name__} needs {', '.join(missing)} ({self.settings_name})."
            )
        self.endpoint = str(configured["endpoint"]).rstrip("/")
        if self.live and endpoint_is_test(self.endpoint):
            raise ImproperlyConfigured(
                "Live mode cannot use Adyen's test endpoint: set ADYEN_LIVE_ENDPOINT to your "
                "live prefix URL (https://<prefix>-checkout-live.adyenpayments.com/checkout/v71)."
            )
        self.merchant_account = str(configured["merchant_account"])
        self.timeout = float(configured.get("timeout") or settings.ADYEN_TIMEOUT_SECONDS)
        self.return_url = str(configured.get("return_url") or "https://localhost/")
        ca_bundle = configured.get("ca_bundle") or settings.ADYEN_CA_BUNDLE
        self._session = requests.Session()
        # Passed on every call: a session-wide value loses to REQUESTS_CA_BUNDLE in requests.
        self._verify: str | bool = str(ca_bundle) if ca_bundle else True
        self._session.headers.update(
            {
                "X-API-Key": str(configured["api_key"]),
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )

    # --- transport ---------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        try:
            response = self._session.post(
                f"{self.endpoint}{path}",
                json=body,
                headers={"Idempotency-Key": idempotency_key},
                timeout=self.timeout,
                allow_redirects=False,
                verify=self._verify,
            )
        except requests.exceptions.SSLError as exc:
            # The handshake failed: nothing was sent.
            raise ProcessorUnreachable("Adyen's TLS certificate could not be verified.") from exc
        except requests.ConnectTimeout as exc:
            raise ProcessorUnreachable("Adyen could not be reached (connect timeout).") from exc
        except requests.Timeout as exc:
            raise ProcessorTimeout("Adyen did not answer in time.") from exc
        except requests.ConnectionError as exc:
            if _never_connected(exc):
                raise ProcessorUnreachable("Adyen could not be reached.") from exc
            raise ProcessorTimeout("The connection to Adyen broke; outcome unknown.") from exc
        status = response.status_code
        if status in (401, 403):
            logger.error("adyen refused our credentials", extra={"status": status})
            raise ProcessorUnreachable(f"Adyen refused the credentials (HTTP {status}).")
        if status >= 500 or 300 <= status < 400:
            raise ProcessorTimeout(f"Adyen answered HTTP {status}; outcome unknown.")
        try:
            data = json_parse(response.content)
        except JsonRefused as exc:
            raise ProcessorTimeout("Adyen's answer was not JSON; outcome unknown.") from exc
        if not isinstance(data, dict):
            raise ProcessorTimeout("Adyen's answer was not an object; outcome unknown.")
        if status in (400, 422):
            logger.warning(
                "adyen refused the request",
                extra={"status": status, "error_code": str(data.get("errorCode", ""))[:20]},
            )
            return {"_refused": True, **data}
        return data

    # --- payments ----------------------------------------------------------------------------

    def _payment(
        self,
        *,
        idempotency_key: str,
        card: ProcessorCard,
        amount: int,
        currency: str,
        description: str,
        capture: bool,
    ) -> ProcessorCharge:
        method: dict[str, Any] = {
            "type": "scheme",
            "number": card.number,
            "expiryMonth": f"{card.exp_month:02d}",
            "expiryYear": f"{card.exp_year:04d}",
        }
        if card.name:
            method["holderName"] = card.name
        if card.cvc:
            method["cvc"] = card.cvc  # the first authorization only; never stored
        body: dict[str, Any] = {
            "amount": {"currency": currency.upper(), "value": amount},
            "merchantAccount": self.merchant_account,
            "reference": idempotency_key,
            "paymentMethod": method,
            "returnUrl": self.return_url,
            "shopperInteraction": "Ecommerce",
        }
        if description:
            body["shopperStatement"] = description[:22]
        if capture:
            body["captureDelayHours"] = 0
        else:
            body["additionalData"] = {"manualCapture": "true"}
        data = self._post("/payments", body, idempotency_key=idempotency_key)
        del body, method
        return payment_result(data)

    def charge(
        self,
        *,
        idempotency_key: str,
        card: ProcessorCard,
        amount: int,
        currency: str,
        description: str = "",
    ) -> ProcessorCharge:
        return self._payment(
            idempotency_key=idempotency_key,
            card=card,
            amount=amount,
            currency=currency,
            description=description,
            capture=True,
        )

    def authorize(
        self,
        *,
        idempotency_key: str,
        card: ProcessorCard,
        amount: int,
        currency: str,
        description: str = "",
    ) -> ProcessorCharge:
        return self._payment(
            idempotency_key=idempotency_key,
            card=card,
            amount=amount,
            currency=currency,
            description=description,
            capture=False,
        )

    def charge_lookup(self, *, idempotency_key: str) -> ProcessorCharge | None:
        """None: Adyen has no lookup by our key, but re-sending the same request with the same
        ``Idempotency-Key`` is answered with the first result, which is what reconcile does."""
        return None

    # --- modifications (confirmed later by notifications) ------------------------------------

    def _modification(
        self, kind: str, *, idempotency_key: str, psp: str, amount: int | None, currency: str
    ) -> tuple[str, bool, str]:
        body: dict[str, Any] = {
            "merchantAccount": self.merchant_account,
            "reference": idempotency_key,
        }
        if amount is not None:
            body["amount"] = {"currency": currency.upper(), "value": amount}
        data = self._post(f"/payments/{psp}/{kind}", body, idempotency_key=idempotency_key)
        if data.get("_refused"):
            return "", False, "processing_error"
        if data.get("status") != "received" or not data.get("pspReference"):
            raise ProcessorTimeout("Adyen's answer to a modification was not understood.")
        return str(data["pspReference"]), True, ""

    def capture(
        self, *, idempotency_key: str, processor_charge_id: str, amount: int, currency: str
    ) -> ProcessorCapture:
        psp, ok, code = self._modification(
            "captures",
            idempotency_key=idempotency_key,
            psp=processor_charge_id,
            amount=amount,
            currency=currency,
        )
        return ProcessorCapture(
            processor_id=psp or processor_charge_id,
            succeeded=ok,
            amount=amount if ok else 0,
            failure_code=code,
            failure_message=FAILURE_MESSAGES.get(code, ""),
            pending=ok,
        )

    def void(self, *, idempotency_key: str, processor_charge_id: str) -> ProcessorVoid:
        psp, ok, code = self._modification(
            "cancels",
            idempotency_key=idempotency_key,
            psp=processor_charge_id,
            amount=None,
            currency="",
        )
        return ProcessorVoid(
            processor_id=psp or processor_charge_id, succeeded=ok, failure_code=code, pending=ok
        )

    def refund(
        self, *, idempotency_key: str, processor_charge_id: str, amount: int, currency: str
    ) -> ProcessorRefund:
        psp, ok, code = self._modification(
            "refunds",
            idempotency_key=idempotency_key,
            psp=processor_charge_id,
            amount=amount,
            currency=currency,
        )
        return ProcessorRefund(
            processor_id=psp or processor_charge_id,
            succeeded=ok,
            failure_code=code,
            failure_message=FAILURE_MESSAGES.get(code, ""),
            pending=ok,
        )


class AdyenLiveProcessor(AdyenProcessor):
    """Live mode's Adyen (``ADYEN_LIVE``): refuses Adyen's test endpoint."""

    settings_name = "ADYEN_LIVE"
    live = True


def payment_result(data: dict[str, Any]) -> ProcessorCharge:
    """A ``/payments`` answer as ours (see the table in the README)."""
    psp = str(data.get("pspReference") or "")
    if data.get("_refused"):
        return _declined(psp, "processing_error")
    result = str(data.get("resultCode") or "")
    if result == "Authorised":
        if not psp:
            raise ProcessorTimeout("Adyen authorised without a pspReference; outcome unknown.")
        return ProcessorCharge(processor_id=psp, approved=True)
    if result == "Refused":
        code = REFUSAL_CODES.get(str(data.get("refusalReasonCode") or ""), "card_declined")
        return _declined(psp, code)
    if result in SHOPPER_ACTION_CODES:
        return _declined(psp, "authentication_required")
    if result in UNSETTLED_CODES:
        raise ProcessorTimeout(f"Adyen answered {result}; the outcome comes later.")
    return _declined(psp, "processing_error")  # Error, Cancelled, anything unexpected


def _declined(psp: str, code: str) -> ProcessorCharge:
    return ProcessorCharge(
        processor_id=psp,
        approved=False,
        failure_code=code,
        failure_message=FAILURE_MESSAGES.get(code, FAILURE_MESSAGES["card_declined"]),
    )


def _never_connected(exc: requests.ConnectionError) -> bool:
    text = repr(exc)
    return "NewConnectionError" in text or "NameResolutionError" in text or "refused" in text


__all__ = ["REFUSAL_CODES", "AdyenLiveProcessor", "AdyenProcessor", "payment_result"]
