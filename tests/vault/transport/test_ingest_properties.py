"""Properties of the card ingest under hostile input: whatever bytes arrive, and whatever JSON
sits in any segment of the JWS (signed with our own key or not) or of the JWE inside it, the
answer is a 4xx problem and never a 5xx. Bounded example counts keep them in ``make test``."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments_site.kernel.encoding import b64url_encode
from tests.monitoring.support import monitoring_counters_reset
from vault.keys import KeyPurpose, KeyService
from vault.models import Token

pytestmark = pytest.mark.django_db

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
segments = st.one_of(
    json_values.map(lambda v: b64url_encode(json.dumps(v).encode())),
    st.binary(max_size=64).map(b64url_encode),
    st.text(max_size=40),
)


def _post(body: bytes) -> int:
    monitoring_counters_reset()  # each example on its own: no cool-off hides an answer
    response = Client().post("/vault/v1/cards", data=body, content_type="application/jwt")
    return int(response.status_code)


def _valid_claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": django_settings.CARD_JWT_ISSUER,
        "aud": django_settings.CARD_JWT_AUDIENCE,
        "iat": now,
        "exp": now + 60,
        "jti": "j" + str(now),
        "sub": "cs_prop",
        "nonce": "n",
        "mer": "mer_prop",
    }


@EXAMPLES
@given(body=st.binary(max_size=9000))
def test_arbitrary_bytes_get_a_4xx(keys: KeyService, body: bytes) -> None:
    assert 400 <= _post(body) < 500


@EXAMPLES
@given(parts=st.lists(segments, min_size=1, max_size=6))
def test_arbitrary_segments_get_a_4xx(keys: KeyService, parts: list[str]) -> None:
    assert 400 <= _post(".".join(parts).encode("utf-8", "surrogatepass")) < 500


@EXAMPLES
@given(
    header_changes=st.dictionaries(
        st.sampled_from(["alg", "typ", "kid", "x"]), json_values, max_size=2
    ),
    claim_changes=st.dictionaries(
        st.sampled_from(["iss", "aud", "iat", "exp", "jti", "sub", "nonce", "mer", "cip", "x"]),
        json_values,
        max_size=3,
    ),
    card=st.one_of(json_values, st.lists(segments, min_size=5, max_size=5).map(".".join)),
)
def test_any_json_in_a_token_signed_with_our_key_gets_a_4xx(
    keys: KeyService,
    merchant: Any,
    header_changes: dict[str, Any],
    claim_changes: dict[str, Any],
    card: Any,
) -> None:
    # given a token our own key signed, every member valid but those changed and the card
    kid = next(k.kid for k in keys.public_keys() if k.purpose == KeyPurpose.SIGN)
    header = {"alg": "ES256", "typ": "card+jwt", "kid": kid, **header_changes}
    claims = {**_valid_claims(), "mer": merchant.pk, **claim_changes, "card": card}
    signing_input = ".".join(b64url_encode(json.dumps(part).encode()) for part in (header, claims))
    _, signature = keys.sign_es256(signing_input.encode("ascii"))

    # then it is refused with a 4xx and no token exists
    status = _post(f"{signing_input}.{b64url_encode(signature)}".encode())
    assert 400 <= status < 500
    assert not Token.objects.exists()
