"""Property of the hosted page's form: whatever fields a client posts, with the page's nonce
or without, the answer is a page (or a redirect), never a 5xx, and nothing is charged unless
it was a complete, valid card."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkout.payments.models import Charge
from checkout.sessions.models import CheckoutSession
from tests.checkout.sessions.test_views import page_url
from tests.monitoring.support import monitoring_counters_reset
from vault.keys import KeyService

pytestmark = pytest.mark.django_db

FIELDS = ["nonce", "card_jwe", "number", "exp", "cvc", "name", "email", "extra"]
values = st.one_of(
    st.text(max_size=80),
    st.text(alphabet="0123456789 /-", max_size=24),
    st.sampled_from(["4242 4242 4242 4242", "12 / 30", "123", "a.b.c.d.e", ""]),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fields=st.dictionaries(st.sampled_from(FIELDS), values, max_size=8), real_nonce=st.booleans()
)
def test_any_form_post_gets_a_page_never_a_5xx(
    keys: KeyService, session_factory: object, fields: dict[str, str], real_nonce: bool
) -> None:
    monitoring_counters_reset()
    session: CheckoutSession = session_factory()  # type: ignore[operator]
    if real_nonce:
        fields = {**fields, "nonce": session.nonce}

    response = Client().post(page_url(session), fields)

    assert response.status_code < 500
    assert response.status_code in (303, 400, 402, 409, 422, 429)
    if response.status_code != 303:  # only a complete, valid card may be charged
        assert not Charge.objects.filter(status=Charge.Status.SUCCEEDED).exists()
