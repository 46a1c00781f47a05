"""Domain errors of the checkout, each with a stable code (problem+json ``code``)."""

from __future__ import annotations

from payments_site.problems import FieldError, ProblemError


class TokenUnusable(ProblemError):
    """A charge or subscription on a token that cannot be charged (422, field ``token``)."""

    status = 422
    code = "token_unusable"
    title = "The token cannot be charged"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code, errors=[FieldError("token", code, message)])


TOKEN_MESSAGES = {
    "token_not_found": "No such token for this merchant.",
    "token_revoked": "This token has been revoked and can no longer be charged.",
    "token_expired": "The card behind this token has expired.",
}


def token_unusable(code: str) -> TokenUnusable:
    return TokenUnusable(code, TOKEN_MESSAGES[code])


class ChargeNotFound(ProblemError):
    status = 404
    code = "charge_not_found"
    title = "No such charge"


class SubscriptionNotFound(ProblemError):
    status = 404
    code = "subscription_not_found"
    title = "No such subscription"


class RefundNotAllowed(ProblemError):
    status = 422
    code = "refund_not_allowed"
    title = "The charge cannot be refunded"


class ChargeIdempotencyConflict(ProblemError):
    """The charge recorded under an Idempotency-Key differs from the request."""

    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"
