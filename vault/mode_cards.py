"""Which card numbers each mode takes (PCI DSS 6.5.5: no live card data in pre-production).

Test mode takes only the documented public test cards (``tests/data/cards.json``); live mode
takes anything but them. The numbers are known here only by keyed digest (HMAC-SHA256 under a
fixed, public domain key), so no card number is written in code; ``tests/vault/test_mode_cards.py``
checks the digests against the test cards, so the two cannot drift apart.

A refused number is never stored, logged or echoed: the error names the field and the rule,
not the number, and the check runs before any key service call or write.
"""

from __future__ import annotations

import hashlib
import hmac

from django.utils.translation import gettext_lazy as _

from payments_site.kernel.errors import FieldError

from .cards import CardValidationError

DIGEST_KEY = b"tessera/public-test-card/v1"

TEST_MODE_LIVE_CARD = "test_mode_live_card"
LIVE_MODE_TEST_CARD = "live_mode_test_card"

MESSAGES = {
    TEST_MODE_LIVE_CARD: _(
        "Test mode takes test cards only: use one of the documented test card numbers."
    ),
    LIVE_MODE_TEST_CARD: _("This is a test card number; live mode takes real cards only."),
}

# The public test cards (approvals, declines and declines at capture), by digest.
PUBLIC_TEST_CARD_DIGESTS = frozenset(
    {
        "0af898af82db1b5377ad49eac0f66bd47ed7b992123df3f8e94ff1e9864ef509",
        "3296f36ad3b0f76b285cd323d499cbabec4ee121cb2f4111f5a359c5e83e4f60",
        "3aaaf2c6c9979eed45b907e508c231f06363921e81c250f916a213bffe538756",
        "602ec65b9a090936dce71661902bc3ec350db792ab289a78e9901f6ea0a4c51b",
        "603a0f8702e157b1bd1d5dbbdabe7bf093ab690bdda21dc9dee9e0b73cc65ee3",
        "6c3587f4f30370dc4d2da849a2c1501de733816b3d3ee32c371b574c0407b06f",
        "806055ac997f3e1fdbc7aa54795aa08a17764724f2fd523ba916b56ef033e1be",
        "8cae0a25b0abdcc00a8eefda5fafe0a49ecfc6cde560a2b6947b4038f6255254",
        "8ee5d957fa670a52ce53313fa1693e880835ca909aba36ac5a6653e181d59f15",
        "92321fef5fba9ee4c349436d07972c535740a919027459c1618471c83f63269c",
        "a0b4f199700b03102e9598e74b8efe211344fed6dda332797a7e51f354060cac",
        "b85e6ed84d75231cba6506e14c789122ebb95e5e06ff050b540cb1d753f976f6",
        "b9464e2f66d9e6928ce5f54547e9862b28aaf590c8146228763f5663f740a47e",
        "be9abbbb385b90bf342a91ce13dfb4b52ed347f1dd0515dec9618ed937e22d62",
        "bf65071e0fb87bdb129c95ddcc834fd5f93773c0edc581eba599f754849f612e",
        "d98522099b1d8ed7b00b270e1a5a8da8a66ea8368895802c460e0cbc28d03766",
        "de7f17bc5534b668fd4073bfb206c04ad189b1a3ccd968d4dbc7f45001b392d9",
        "e7b462ada59ddc2d2f960eeca10b512247d0b5ea1c659696586544d62526e935",
        "e83bac8ac3638e69d5e2bad650c780220e68c6b0c1a4f8def438f14bbbbf643c",
        "f75d1383294fa96eb83420dc49a7e1b6d3c71e0712af2de19b52cb1c288fc9ba",
        "fd65ad66e131ff326f9be93554a9f23279344489208fd4918dc5c04ad5cca9a0",
    }
)


def card_digest(number: str) -> str:
    return hmac.new(DIGEST_KEY, number.encode("ascii"), hashlib.sha256).hexdigest()


def is_public_test_card(number: str) -> bool:
    """Whether ``number`` (digits only) is one of the documented public test cards."""
    return card_digest(number) in PUBLIC_TEST_CARD_DIGESTS


def card_mode_check(*, number: str, livemode: bool) -> None:
    """Refuse a real card in test mode and a public test card in live mode, as a field error
    on ``number`` (HTTP 422, like every other card error)."""
    test_card = is_public_test_card(number)
    if test_card != livemode:
        return
    code = LIVE_MODE_TEST_CARD if livemode else TEST_MODE_LIVE_CARD
    raise CardValidationError([FieldError("number", code, str(MESSAGES[code]))])
