"""The root page says what this is and links onwards; under development settings it offers a
test-mode demo checkout. Health checks answer HEAD like GET."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client, override_settings

from checkout.sessions.models import CheckoutSession
from vault.management.commands.bootstrap_demo import DEMO_MERCHANT
from vault.merchants import merchant_create

pytestmark = pytest.mark.django_db

DEMO = override_settings(DEMO_CHECKOUT_ENABLED=True, PUBLIC_ORIGIN="https://localhost:9444")


def test_root_page_links_to_the_docs_and_the_admin() -> None:
    response = Client().get("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert 'href="/api/docs/"' in body
    assert 'href="/admin/"' in body
    assert "demo checkout" not in body  # production and tests: no demo


def test_admin_view_site_link_opens_the_root_page() -> None:
    assert admin.site.site_url == "/"
    assert Client().get("/").status_code == 200


@DEMO
def test_demo_checkout_opens_a_test_mode_payment_page() -> None:
    merchant = merchant_create(name=DEMO_MERCHANT)
    client = Client()

    page = client.get("/").content.decode()
    response = client.post("/demo/checkout")

    assert 'action="/demo/checkout"' in page
    assert "4242 4242 4242 4242" in page
    assert response.status_code == 303
    session = CheckoutSession.objects.get(merchant=merchant)
    assert response["Location"] == f"/checkout/{session.pk}/"
    assert (session.mode, session.amount, session.currency) == ("payment", 4900, "EUR")
    assert session.success_url == "https://localhost:9444/?session_id={CHECKOUT_SESSION_ID}"
    assert client.get(response["Location"]).status_code == 200


@DEMO
def test_root_page_reports_the_demo_session_it_returned_from() -> None:
    merchant = merchant_create(name=DEMO_MERCHANT)
    Client().post("/demo/checkout")
    session = CheckoutSession.objects.get(merchant=merchant)

    body = Client().get("/", {"session_id": session.pk}).content.decode()

    assert f"Demo checkout {session.pk}: open." in body


def test_demo_checkout_is_not_found_outside_development() -> None:
    merchant_create(name=DEMO_MERCHANT)

    response = Client().post("/demo/checkout")

    assert response.status_code == 404
    assert CheckoutSession.objects.count() == 0


@DEMO
def test_demo_checkout_refuses_get() -> None:
    merchant_create(name=DEMO_MERCHANT)

    assert Client().get("/demo/checkout").status_code == 405
    assert CheckoutSession.objects.count() == 0


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/"])
def test_head_answers_like_get(path: str) -> None:
    response = Client().head(path)

    assert response.status_code == 200
    assert response.content == b""
