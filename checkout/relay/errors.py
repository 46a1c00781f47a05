"""The relay's refusals. Each is raised before any card is revealed or sent."""

from __future__ import annotations

from payments_site.kernel.errors import DomainError


class DestinationNotRegistered(DomainError):
    """No active destination of this merchant and mode has the URL's host and port."""

    code = "destination_not_registered"


class DestinationPathRefused(DomainError):
    """The host is registered, but the path is outside every prefix registered for it."""

    code = "destination_path_refused"


class DestinationMethodRefused(DomainError):
    code = "destination_method_refused"


class CardFieldRefused(DomainError):
    """The template asks for a card field the destination may not receive."""

    code = "card_field_refused"


class DestinationAddressRefused(DomainError):
    """The registered host resolves to an address the SSRF rules refuse (private, loopback,
    metadata…), or does not resolve."""

    code = "destination_address_refused"


class ForwardHeaderRefused(DomainError):
    code = "forward_header_refused"


class ForwardNotFound(DomainError):
    code = "forward_not_found"

    def __init__(self) -> None:
        super().__init__("No forward with this id exists for your account.")


class DestinationInvalid(DomainError):
    """An operator's destination is not valid (host, prefix, fields)."""

    code = "destination_invalid"
