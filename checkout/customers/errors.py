"""Errors of customers, each with a stable code (the problem table gives it a status)."""

from __future__ import annotations

from payments_site.kernel.errors import DomainError


class CustomerNotFound(DomainError):
    code = "customer_not_found"

    def __init__(self, field: str = "") -> None:
        super().__init__("No such customer for this merchant.", field=field)


class CustomerCardNotFound(DomainError):
    code = "customer_card_not_found"

    def __init__(self) -> None:
        super().__init__("This token is not a card of this customer.")


class CustomerCardRefused(DomainError):
    """A token that cannot be saved to this customer; ``code`` says why, on ``token``."""

    code = "customer_card_refused"
    problem = "customer_card_refused"

    def __init__(self, code: str, message: str, *, field: str = "token") -> None:
        super().__init__(message, code=code, field=field)


class CustomerUnusable(DomainError):
    """A customer named in a request body that cannot be used (unknown, deleted, or without
    the card needed); ``code`` says why, on ``customer`` or ``token``."""

    code = "customer_unusable"
    problem = "customer_unusable"

    def __init__(self, code: str, message: str, *, field: str = "customer") -> None:
        super().__init__(message, code=code, field=field)
