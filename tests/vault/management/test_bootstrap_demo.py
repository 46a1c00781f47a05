"""``bootstrap_demo`` and ``mfa_enrolment_link`` print links on the origin people open
(``PUBLIC_ORIGIN``: under ``make run``, https://localhost:<its PORT>)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


@override_settings(PUBLIC_ORIGIN="https://localhost:9444")
def test_bootstrap_demo_links_use_the_public_origin() -> None:
    out = StringIO()

    call_command("bootstrap_demo", stdout=out)

    links = re.findall(r"https?://\S+", out.getvalue())
    assert len(links) == 2
    assert links[0] == "https://localhost:9444/admin/"
    assert links[1].startswith("https://localhost:9444/admin/mfa/enrol/")
    assert Client().get(links[1].removeprefix("https://localhost:9444")).status_code == 200


@override_settings(PUBLIC_ORIGIN="https://localhost:9444")
def test_enrolment_link_defaults_to_the_public_origin() -> None:
    get_user_model().objects.create_user("ops", password="x" * 16, is_staff=True)
    out = StringIO()

    call_command("mfa_enrolment_link", "ops", stdout=out)

    assert out.getvalue().startswith("https://localhost:9444/admin/mfa/enrol/")
