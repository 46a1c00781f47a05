"""The processor adapter: the one place a token becomes a card, for exactly one processor call.

``token_reveal`` (audited by the vault as ``checkout:processor-adapter``, purpose
``charge:<id>``) → ``ProcessorCard`` in memory → ``Processor.charge`` (or ``authorize`` when the
charge is captured later) → the card is dropped. The services around it only ever see the
processor's answer; capture and void need no card.
"""

from __future__ import annotations

from checkout.payments.processors.base import ProcessorCard, ProcessorCharge, get_processor
from vault.models import Token
from vault.services import TokenExpired, TokenNotFound, TokenRevoked, token_reveal

# Who reveals cards, in the vault's audit trail.
PROCESSOR_ACTOR = "checkout:processor-adapter"


class TokenRefused(Exception):
    """The vault refused to reveal the token (revoked or expired since it was checked)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def processor_charge_token(
    *,
    charge_id: str,
    token: Token,
    amount: int,
    currency: str,
    description: str = "",
    cvc: str | None = None,
    capture: bool = True,
    card: ProcessorCard | None = None,
) -> ProcessorCharge:
    """Reveal ``token``, charge it (or only authorise it, ``capture=False``) with ``charge_id``
    as the idempotency key, forget the card.
    The processor is the token's mode's, chosen before anything is revealed. ``card``: revealed
    already (``processor_card_reveal`` in the charge's own transaction). Raises
    ``TokenRefused``, ``ProcessorTimeout``, ``ProcessorUnreachable`` or
    ``LiveModeUnavailable``."""
    processor = get_processor(livemode=token.livemode)
    if card is None:
        card = processor_card_reveal(charge_id=charge_id, token=token, cvc=cvc)
    send = processor.charge if capture else processor.authorize
    try:
        return send(
            idempotency_key=charge_id,
            card=card,
            amount=amount,
            currency=currency,
            description=description,
        )
    finally:
        # The only reference to the card goes now (Python strings cannot be wiped, but nothing
        # keeps this one alive past the call).
        del card


def processor_card_reveal(*, charge_id: str, token: Token, cvc: str | None) -> ProcessorCard:
    """The card behind ``token`` for charge ``charge_id``, in memory. Inside a transaction the
    reveal's audit event and the token's use commit with it (the charge's intent). Raises
    ``TokenRefused``."""
    try:
        revealed = token_reveal(token=token, purpose=f"charge:{charge_id}", actor=PROCESSOR_ACTOR)
    except (TokenRevoked, TokenNotFound) as exc:
        raise TokenRefused("token_revoked") from exc
    except TokenExpired as exc:
        raise TokenRefused("token_expired") from exc
    card = ProcessorCard(
        number=revealed.number,
        exp_month=revealed.exp_month,
        exp_year=revealed.exp_year,
        name=revealed.name or "",
        cvc=cvc,
    )
    del revealed
    return card
