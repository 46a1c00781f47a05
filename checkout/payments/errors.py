"""Errors of payments, each with a stable code (the problem table gives it a status)."""

from __future__ import annotations

from payments_site.kernel.errors import DomainError


class TokenUnusable(DomainError):
    """A charge or subscription on a token that cannot be charged; ``code`` says why and
    the field is ``token``."""

    code = "token_unusable"
    problem = "token_unusable"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code, field="token")


TOKEN_MESSAGES = {
    "token_not_found": "No such token for this merchant.",
    "token_revoked": "This token has been revoked and can no longer be charged.",
    "token_expired": "The card behind this token has expired.",
}


def token_unusable(code: str) -> TokenUnusable:
    return TokenUnusable(code, TOKEN_MESSAGES[code])


class ChargeNotFound(DomainError):
    code = "charge_not_found"


class RefundNotFound(DomainError):
    code = "refund_not_found"


class RefundNotAllowed(DomainError):
    """``code`` says why: ``charge_not_refundable``, ``refund_amount_too_large``…"""

    code = "refund_not_allowed"
    problem = "refund_not_allowed"


class ChargeIdempotencyConflict(DomainError):
    """The charge recorded under an Idempotency-Key differs from the request."""

    code = "idempotency_key_reused"


class ChargeNotCapturable(DomainError):
    """A capture or release the charge's state does not allow; ``code`` says why:
    ``charge_already_captured``, ``charge_released``, ``authorization_expired``,
    ``charge_not_authorized`` (still pending, or failed), ``charge_capture_in_progress``,
    ``charge_release_in_progress``."""

    code = "charge_not_capturable"
    problem = "charge_not_capturable"


class CaptureAmountInvalid(DomainError):
    """More than the authorization holds (``amount``)."""

    code = "capture_amount_too_large"
    problem = "capture_amount_invalid"
