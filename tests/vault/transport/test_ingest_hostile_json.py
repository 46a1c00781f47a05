"""Hostile JSON inside a card token: nesting deep enough to exhaust the parser's stack and
members of the wrong type inside a validly signed token. Each is a clean 4xx with its reason,
audited, counted toward the sender's cool-off, and creates nothing."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest
from django.test import Client
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk

from checkout.sessions.transport import card_encrypt, card_seal, current_key
from monitoring.audit.models import AuditEvent
from payments_site.kernel.encoding import b64url_encode
from tests.vault.transport.jose_tools import decode_part, resign_with
from vault.keys import KeyPurpose, KeyService
from vault.models import Merchant, Token, UsedJti
from vault.transport.claims import CARD_JWT_CLAIMS, CARD_JWT_HEADER, Member
from vault.transport.jose import JWE_ALG, JWE_ENC

pytestmark = pytest.mark.django_db

DEEP = 1500  # the red team's header: 1,500 nested "[" in a 4 KiB token


def post(body: str, ip: str = "198.51.100.1") -> Any:
    return Client(REMOTE_ADDR=ip).post(
        "/vault/v1/cards", data=body.encode(), content_type="application/jwt"
    )


def assert_refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert Token.objects.count() == 0
    assert AuditEvent.objects.filter(action="card.ingest", outcome="denied", reason=code).exists()


def raw_segment(text: str) -> str:
    return b64url_encode(text.encode())


class Sealed:
    def __init__(self, keys: KeyService, merchant: Merchant, card: dict[str, Any]) -> None:
        self.keys = keys
        self.card_jwe = card_encrypt(card, session_id="cs_hostile", nonce="n1", keys=keys)
        self.valid = card_seal(
            self.card_jwe, session_id="cs_hostile", nonce="n1", merchant_id=merchant.id, keys=keys
        )
        self.header = decode_part(self.valid, 0)
        self.claims = decode_part(self.valid, 1)

    def signed(self, header_text: str, claims_text: str) -> str:
        """A JWS over any header and claim texts, validly signed by the real signing key."""
        signing_input = f"{raw_segment(header_text)}.{raw_segment(claims_text)}"
        _, signature = self.keys.sign_es256(signing_input.encode())
        return f"{signing_input}.{b64url_encode(signature)}"

    def with_claims(self, **claims: object) -> str:
        return resign_with(self.keys, self.header, {**self.claims, "jti": _jti(), **claims})

    def with_header(self, **members: object) -> str:
        return resign_with(self.keys, {**self.header, **members}, {**self.claims, "jti": _jti()})


def _jti() -> str:
    return f"j{time.monotonic_ns()}"


@pytest.fixture
def sealed(keys: KeyService, merchant: Merchant, card: dict[str, Any]) -> Sealed:
    return Sealed(keys, merchant, card)


def encrypt_raw(keys: KeyService, plaintext: bytes, header: str | None = None) -> str:
    """A JWE of arbitrary plaintext to the vault's key; ``header`` replaces its protected
    header with any text (the JWE is then only good for the header check)."""
    public = current_key(KeyPurpose.JWE, keys)
    token = jwcrypto_jwe.JWE(
        plaintext=plaintext,
        protected=json.dumps({"alg": JWE_ALG, "enc": JWE_ENC, "kid": public.kid}),
    )
    token.add_recipient(jwcrypto_jwk.JWK(**public.jwk))
    compact = str(token.serialize(compact=True))
    if header is None:
        return compact
    return ".".join([raw_segment(header), *compact.split(".")[1:]])


# --- nesting ------------------------------------------------------------------------------------


def test_a_deeply_nested_jws_header_is_malformed_not_a_crash(sealed: Sealed) -> None:
    body = f"{raw_segment('[' * DEEP + ']' * DEEP)}.{sealed.valid.split('.', 1)[1]}"
    assert len(body) < 8 * 1024

    assert_refused(post(body), 400, "malformed_token")


def test_a_nested_member_in_the_jws_header_is_malformed(sealed: Sealed) -> None:
    header = '{"alg":"ES256","typ":"card+jwt","kid":' + "[" * DEEP + "]" * DEEP + "}"
    body = f"{raw_segment(header)}.{sealed.valid.split('.', 1)[1]}"

    assert_refused(post(body), 400, "malformed_token")


def test_a_deeply_nested_claim_set_under_a_valid_signature_is_malformed(sealed: Sealed) -> None:
    token = sealed.signed(json.dumps(sealed.header), '{"a":' + "[" * DEEP + "]" * DEEP + "}")

    assert_refused(post(token), 400, "malformed_token")


def test_a_deeply_nested_card_jwe_header_is_malformed(sealed: Sealed) -> None:
    card = encrypt_raw(sealed.keys, b"{}", header="[" * DEEP + "]" * DEEP)

    assert_refused(post(sealed.with_claims(card=card)), 400, "malformed_card_encryption")


def test_a_deeply_nested_card_plaintext_is_malformed(sealed: Sealed, card: dict[str, Any]) -> None:
    nested: Any = []
    for _ in range(DEEP):
        nested = [nested]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(DEEP * 4)  # only to write the hostile JSON; the vault runs as usual
    try:
        jwe = card_encrypt(
            {**card, "name": nested}, session_id="cs_hostile", nonce="n1", keys=sealed.keys
        )
    finally:
        sys.setrecursionlimit(limit)

    assert_refused(post(sealed.with_claims(card=jwe)), 400, "malformed")


def test_nested_garbage_counts_toward_the_senders_cool_off(sealed: Sealed) -> None:
    body = f"{raw_segment('[' * DEEP + ']' * DEEP)}.{sealed.valid.split('.', 1)[1]}"

    answers = [post(body).status_code for _ in range(22)]

    assert answers[:19] == [400] * 19
    assert answers[-1] == 429
    assert post(sealed.valid).status_code == 429
    assert post(sealed.valid, ip="198.51.100.2").status_code == 201


# --- member types, from the one table -------------------------------------------------------------

HOSTILE_VALUES: dict[type, list[Any]] = {
    int: ["1700000000", 1.7e9, True, None, [1], {"v": 1}, 10**30, -1],
    str: [12, 1.5, True, None, ["x"], {"v": "x"}, "", "x" * 300, "tab\there"],
    bool: ["true", "false", 0, 1, None, [True], {"v": True}],
}


def _cases(table: dict[str, Member] | Any) -> list[tuple[str, Any, Member]]:
    return [(name, value, row) for name, row in table.items() for value in HOSTILE_VALUES[row.kind]]


@pytest.mark.parametrize(("name", "value", "row"), _cases(CARD_JWT_CLAIMS))
def test_every_claim_of_the_wrong_type_or_range_is_refused(
    sealed: Sealed, name: str, value: Any, row: Member
) -> None:
    response = post(sealed.with_claims(**{name: value}))

    assert_refused(response, 400 if row.malformed else 401, row.reason)
    assert UsedJti.objects.count() == 0


@pytest.mark.parametrize(("name", "value", "row"), _cases(CARD_JWT_HEADER))
def test_every_header_member_of_the_wrong_type_is_refused(
    sealed: Sealed, name: str, value: Any, row: Member
) -> None:
    assert_refused(post(sealed.with_header(**{name: value})), 401, row.reason)


def test_an_exp_written_as_a_numeric_string_is_a_clean_refusal(sealed: Sealed) -> None:
    response = post(sealed.with_claims(exp=str(int(time.time()) + 60)))

    assert_refused(response, 401, "invalid_expiry")


def test_an_unknown_claim_is_refused(sealed: Sealed) -> None:
    assert_refused(post(sealed.with_claims(nbf=int(time.time()))), 401, "unsupported_claim")
