"""The admin shows and filters the mode of everything that has one; a test session's hosted
page says "Test mode", a live one does not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db.models import Model, QuerySet
from django.db.models.lookups import Exact
from django.db.models.sql.where import WhereNode
from django.test import Client, RequestFactory
from django.urls import reverse

from checkout.sessions.models import CheckoutSession
from tests.factories import CheckoutSessionFactory
from vault.models import Merchant

pytestmark = pytest.mark.django_db


# Models with a mode that the admin leaves out on purpose, each with its reason.
NOT_IN_THE_ADMIN = {
    # Replay records of API requests: what they recorded is the object they made (in the admin).
    "checkout.IdempotencyKey",
    # A customer's saved cards: shown (with their mode) on their customer's page.
    "checkout.CustomerCard",
}


def _moded_models() -> list[type[Model]]:
    """Every installed model with a mode, from the app registry: a model added later is in."""
    return [
        model
        for model in apps.get_models()
        if "livemode" in {f.name for f in model._meta.get_fields()}
    ]


def _moded_admins() -> list[tuple[type[Model], admin.ModelAdmin[Any]]]:
    return [(m, admin.site._registry[m]) for m in _moded_models() if m in admin.site._registry]


def _where_lookups(node: WhereNode) -> Iterator[Any]:
    for child in node.children:
        if isinstance(child, WhereNode):
            yield from _where_lookups(child)
        else:
            yield child


def _narrows_to_mode(queryset: QuerySet[Any], livemode: bool) -> bool:
    """The changelist's query has ``livemode = <livemode>`` in its WHERE clause."""
    return any(
        isinstance(lookup, Exact)
        and getattr(lookup.lhs, "target", None) is not None
        and lookup.lhs.target.name == "livemode"
        and lookup.rhs is livemode
        for lookup in _where_lookups(queryset.query.where)
    )


def test_every_model_with_a_mode_is_in_the_admin() -> None:
    missing = {m._meta.label for m in _moded_models() if m not in admin.site._registry}

    assert missing == NOT_IN_THE_ADMIN
    assert {m._meta.label for m, _ in _moded_admins()} >= {
        "vault.Token", "checkout.Charge", "checkout.Refund", "checkout.Subscription",
        "checkout.CheckoutSession", "checkout.Event", "checkout.WebhookEndpoint",
        "checkout.WebhookDelivery", "checkout.Customer",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("model", "model_admin"), _moded_admins(), ids=lambda x: getattr(x, "__name__", "")
)
def test_the_admin_shows_and_filters_the_mode(
    model: type[Model], model_admin: admin.ModelAdmin[Any], admin_user: Any
) -> None:
    request = RequestFactory().get("/")
    request.user = admin_user
    assert "livemode" in model_admin.get_list_display(request)
    assert "livemode" in model_admin.get_list_filter(request)
    assert "livemode" in model_admin.get_fields(request)


@pytest.mark.parametrize(
    ("model", "model_admin"), _moded_admins(), ids=lambda x: getattr(x, "__name__", "")
)
@pytest.mark.parametrize("livemode", [False, True], ids=["test", "live"])
def test_the_mode_filter_narrows_each_changelist_to_that_mode(
    model: type[Model], model_admin: admin.ModelAdmin[Any], admin_user: Any, livemode: bool
) -> None:
    request = RequestFactory().get("/", {"livemode__exact": "1" if livemode else "0"})
    request.user = admin_user

    changelist = model_admin.get_changelist_instance(request)

    assert _narrows_to_mode(changelist.get_queryset(request), livemode)
    assert not _narrows_to_mode(changelist.get_queryset(request), not livemode)
    unfiltered = RequestFactory().get("/")
    unfiltered.user = admin_user
    assert not _narrows_to_mode(
        model_admin.get_changelist_instance(unfiltered).get_queryset(unfiltered), livemode
    )


def test_the_mode_filter_narrows_the_changelist(admin_client: Client, merchant: Merchant) -> None:
    test = CheckoutSessionFactory.create(merchant=merchant.in_mode(False))
    live = CheckoutSessionFactory.create(merchant=merchant.in_mode(True))
    url = reverse("admin:checkout_checkoutsession_changelist")

    live_page = admin_client.get(url, {"livemode__exact": "1"})
    test_page = admin_client.get(url, {"livemode__exact": "0"})
    assert (live_page.status_code, test_page.status_code) == (200, 200)
    only_live, only_test = live_page.content.decode(), test_page.content.decode()

    assert live.pk in only_live and test.pk not in only_live
    assert test.pk in only_test and live.pk not in only_test
    detail = admin_client.get(
        reverse("admin:checkout_checkoutsession_change", args=[quote(live.pk)])
    ).content.decode()
    assert "Livemode" in detail


@pytest.mark.parametrize("livemode", [False, True], ids=["test", "live"])
def test_the_hosted_page_says_test_mode_for_a_test_session(
    client: Client, merchant: Merchant, livemode: bool
) -> None:
    session: CheckoutSession = CheckoutSessionFactory.create(merchant=merchant.in_mode(livemode))

    html = client.get(f"/checkout/{session.pk}/").content.decode()

    assert ('class="test-mode"' in html) is (not livemode)
    assert ("Test mode" in html) is (not livemode)


def test_a_test_session_that_takes_no_card_still_says_test_mode(
    client: Client, merchant: Merchant
) -> None:
    session: CheckoutSession = CheckoutSessionFactory.create(merchant=merchant)
    CheckoutSession.objects.filter(pk=session.pk).update(status="expired")

    html = client.get(f"/checkout/{session.pk}/").content.decode()

    assert 'class="test-mode"' in html
