"""The hosted page over Django's test client: what it renders, what its headers allow, and
the no-JavaScript and JWE posts, including the errors that must never echo the card."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from checkout.sessions import views
from checkout.sessions.models import CheckoutSession
from tests.checkout.sessions.conftest import AMEX, DECLINED, LUHN_WRONG, NEXT_YEAR, VISA, jwe_for
from tests.checkout.sessions.html import by_id, parse
from vault.keys import KeyPurpose, KeyService
from vault.models import Token

pytestmark = pytest.mark.django_db

Factory = Callable[..., CheckoutSession]


def page_url(session: CheckoutSession) -> str:
    return f"/checkout/{session.pk}/"


def raw_post(session: CheckoutSession, number: str = VISA, **fields: str) -> dict[str, str]:
    session.refresh_from_db()
    return {
        "nonce": session.nonce,
        "name": "Ada Lovelace",
        "number": " ".join(number[i : i + 4] for i in range(0, len(number), 4)),
        "exp": f"12 / {NEXT_YEAR % 100:02d}",
        "cvc": "4321" if number == AMEX else "321",
        **fields,
    }


def csp(response) -> dict[str, list[str]]:
    policy = {}
    for directive in response["Content-Security-Policy"].split(";"):
        name, *values = directive.split()
        policy[name] = values
    return policy


def test_the_page_renders_the_form_with_the_right_hints(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory(amount=123456, description="2 books")

    response = client.get(page_url(session), HTTP_ACCEPT_LANGUAGE="en")

    elements = parse(response.content.decode())
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert by_id(elements, "amount").text == "€1,234.56"
    assert by_id(elements, "pay-button").text == "Pay €1,234.56"
    expected = {
        "cc-name": ("cc-name", None, "name"),
        "cc-number": ("cc-number", "numeric", "number"),
        "cc-exp": ("cc-exp", "numeric", "exp"),
        "cc-csc": ("cc-csc", "numeric", "cvc"),
    }
    for element_id, (autocomplete, inputmode, name) in expected.items():
        field = by_id(elements, element_id)
        assert field.attrs["autocomplete"] == autocomplete
        assert field.attrs.get("inputmode") == inputmode
        assert field.attrs["name"] == name  # the no-JavaScript path; the script removes them
        error_id = f"{name}-error"
        assert error_id in (field.attrs["aria-describedby"] or "").split()
        assert by_id(elements, error_id).text == ""
        label = next(e for e in elements if e.tag == "label" and e.attrs.get("for") == element_id)
        assert label.text.strip()
    assert by_id(elements, "cc-exp").attrs["placeholder"] == "MM / YY"
    assert by_id(elements, "live").attrs["aria-live"] == "polite"
    assert by_id(elements, "form-error").attrs["role"] == "alert"


def test_the_amount_follows_the_shoppers_locale(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory(amount=123456, currency="EUR")
    yen = session_factory(amount=5000, currency="JPY")

    french = by_id(
        parse(client.get(page_url(session), HTTP_ACCEPT_LANGUAGE="fr").content.decode()), "amount"
    )
    german = by_id(
        parse(client.get(page_url(session), HTTP_ACCEPT_LANGUAGE="de").content.decode()), "amount"
    )
    japanese = by_id(
        parse(client.get(page_url(yen), HTTP_ACCEPT_LANGUAGE="en").content.decode()), "amount"
    )

    assert (
        french.text.replace("\N{NO-BREAK SPACE}", " ").replace("\N{NARROW NO-BREAK SPACE}", " ")
        == "1 234,56 €"
    )
    assert german.text == "1.234,56\N{NO-BREAK SPACE}€"
    assert japanese.text == "¥5,000"


def test_no_inline_script_only_integrity_checked_files_and_data_blocks(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory()

    response = client.get(page_url(session))

    elements = parse(response.content.decode())
    scripts = [e for e in elements if e.tag == "script"]
    assert [s.attrs.get("type") for s in scripts] == ["module", "application/json"]
    module, data = scripts
    assert module.text.strip() == "" and module.attrs["src"] and module.attrs["integrity"]
    checked = [module.attrs] + [
        e.attrs
        for e in elements
        if e.tag == "link" and e.attrs.get("rel") in ("modulepreload", "stylesheet")
    ]
    assert len(checked) == 4  # checkout.js, card.js, jwe.js, checkout.css
    for attrs in checked:
        url = str(attrs.get("src") or attrs["href"])
        served = b"".join(client.get(url).streaming_content)  # type: ignore[attr-defined]
        digest = base64.b64encode(hashlib.sha384(served).digest()).decode()
        assert attrs["integrity"] == f"sha384-{digest}", url
    config = json.loads(data.text)
    assert config["session"] == session.pk and config["nonce"] == session.nonce
    assert config["jwk"]["kid"] == next(
        k.kid for k in keys.public_keys() if k.purpose == KeyPurpose.JWE
    )
    assert (
        config["jwk"]["kty"] == "EC"
        and config["jwk"]["alg"] == "ECDH-ES"
        and "d" not in config["jwk"]
    )
    assert config["rules"]["brands"][0]["brand"] == "visa"
    policy = csp(response)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert policy["script-src"][0] == "'self'"
    assert policy["form-action"] == ["'self'", "https://shop.example"]
    assert policy["connect-src"] == ["'self'"]


@pytest.mark.parametrize(
    ("success_url", "expected"),
    [
        (
            "https://shop.example/thanks?cs={CHECKOUT_SESSION_ID}",
            "https://shop.example/thanks?cs=<id>",
        ),
        (
            "https://shop.example/orders/{CHECKOUT_SESSION_ID}/done",
            "https://shop.example/orders/<id>/done",
        ),
        ("https://shop.example/thanks#{CHECKOUT_SESSION_ID}", "https://shop.example/thanks#<id>"),
        # Without the placeholder the URL is followed as given, as in Stripe.
        ("https://shop.example/thanks", "https://shop.example/thanks"),
        ("https://shop.example/thanks?order=42#top", "https://shop.example/thanks?order=42#top"),
    ],
)
def test_the_session_id_placeholder_is_replaced_and_nothing_appended(
    keys: KeyService, client: Client, session_factory: Factory, success_url: str, expected: str
) -> None:
    session = session_factory(success_url=success_url)
    page = client.get(page_url(session))

    response = client.post(page_url(session), raw_post(session))

    assert csp(page)["form-action"] == ["'self'", "https://shop.example"]
    assert response.status_code == 303
    assert response["Location"] == expected.replace("<id>", session.pk)
    assert "%7B" not in response["Location"] and "session_id=" not in response["Location"]


def test_without_javascript_the_raw_fields_complete_the_payment(
    keys: KeyService, client: Client, session_factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    session = session_factory()
    caplog.set_level(logging.DEBUG)

    response = client.post(page_url(session), raw_post(session))

    session.refresh_from_db()
    assert response.status_code == 303
    assert response["Location"] == "https://shop.example/thanks?order=42"
    assert session.status == "complete"
    assert session.token is not None and session.token.last4 == VISA[-4:]
    assert VISA not in caplog.text and VISA[:4] + " " not in caplog.text


def test_a_jwe_from_the_page_completes_the_payment(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory(mode="setup")
    card_jwe = jwe_for(session, AMEX)

    response = client.post(
        page_url(session), {"nonce": session.nonce, "card_jwe": card_jwe, "name": "Ada"}
    )

    session.refresh_from_db()
    assert response.status_code == 303
    assert session.status == "complete"
    assert session.token is not None and session.token.last4 == AMEX[-4:]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"number": LUHN_WRONG}, "number", "Your card number is incorrect."),
        ({"exp": "12 / 01"}, "exp", "Your card has expired."),
        ({"exp": "13 / 30"}, "exp", "Your card's expiry date is invalid."),
        ({"cvc": "83"}, "cvc", "Your card's security code is incomplete."),
        ({"number": ""}, "number", "Enter your card number."),
    ],
)
def test_field_errors_re_render_without_echoing_the_card(
    keys: KeyService,
    client: Client,
    session_factory: Factory,
    fields: dict,
    field: str,
    message: str,
) -> None:
    session = session_factory()
    posted = raw_post(session, **fields)

    response = client.post(page_url(session), posted)

    html = response.content.decode()
    elements = parse(html)
    session.refresh_from_db()
    assert response.status_code == 422
    assert by_id(elements, f"{field}-error").text == message
    input_id = {"number": "cc-number", "exp": "cc-exp", "cvc": "cc-csc"}[field]
    assert by_id(elements, input_id).attrs["aria-invalid"] == "true"
    assert "autofocus" in by_id(elements, input_id).attrs
    assert by_id(elements, "form-error").text == message
    assert by_id(elements, "cc-name").attrs["value"] == "Ada Lovelace"
    assert by_id(elements, "cc-number").attrs.get("value") is None
    assert by_id(elements, "cc-csc").attrs.get("value") is None
    for secret in (posted["number"], posted["number"].replace(" ", ""), posted["cvc"]):
        if secret:
            assert not re.search(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", html)
    assert session.status == "open" and session.attempts == 0
    assert not Token.objects.exists()


def test_a_declined_card_says_so_plainly_and_the_next_card_pays(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory()

    declined = client.post(page_url(session), raw_post(session, DECLINED))
    approved = client.post(page_url(session), raw_post(session, VISA))

    elements = parse(declined.content.decode())
    assert declined.status_code == 402
    assert by_id(elements, "form-error").text == "Your card was declined. Try another card."
    assert DECLINED not in declined.content.decode()
    assert approved.status_code == 303
    session.refresh_from_db()
    assert session.status == "complete"
    assert session.token is not None and session.token.last4 == VISA[-4:]


def test_a_stale_page_asks_for_the_card_again(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory()
    stale = raw_post(session, DECLINED)
    client.post(page_url(session), stale)

    response = client.post(page_url(session), {**stale, "number": VISA})

    assert response.status_code == 409
    assert "This page is out of date" in by_id(parse(response.content.decode()), "form-error").text
    assert Token.objects.filter(last4=VISA[-4:]).count() == 0


def test_a_completed_session_shows_its_outcome_and_refuses_more_cards(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory()
    client.post(page_url(session), raw_post(session))

    page = client.get(page_url(session))
    again = client.post(page_url(session), raw_post(session, AMEX))

    assert page.status_code == 200 and b"Payment complete" in page.content
    assert b'href="https://shop.example/thanks?order=42"' in page.content
    assert again.status_code == 409
    assert Token.objects.filter(last4=AMEX[-4:]).count() == 0


def test_an_expired_or_unknown_session_has_no_form(
    keys: KeyService, client: Client, session_factory: Factory
) -> None:
    session = session_factory()
    CheckoutSession.objects.filter(pk=session.pk).update(
        created_at=timezone.now() - timedelta(hours=1), expires_at=timezone.now()
    )

    expired = client.get(page_url(session))
    posted = client.post(page_url(session), raw_post(session))
    unknown = client.get("/checkout/cs_doesnotexist/")

    assert expired.status_code == 410 and b"This checkout has expired" in expired.content
    assert b"checkout-form" not in expired.content
    assert posted.status_code == 410 and not Token.objects.exists()
    assert unknown.status_code == 404 and b"not valid" in unknown.content


def test_card_fields_are_hidden_from_error_reports(
    keys: KeyService, session_factory: Factory
) -> None:
    session = session_factory()
    request = RequestFactory().post(page_url(session), raw_post(session, LUHN_WRONG))

    views.checkout_page(request, session_id=session.pk)

    assert set(request.sensitive_post_parameters) == {"number", "exp", "cvc", "card_jwe"}  # type: ignore[attr-defined]
    assert urlsplit(page_url(session)).path.endswith(f"{session.pk}/")
