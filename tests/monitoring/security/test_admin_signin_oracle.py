"""The admin sign-in answers every failure alike: a wrong password, a right password with no,
a wrong or a spent second factor, an unknown or non-staff user all get the same page (status,
message, form), and each counts toward the lockout."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.monitoring.conftest import ADMIN_PASSWORD
from tests.monitoring.support import totp_now

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
MESSAGE = "Enter the correct username, password and authentication code for a staff account."


def _wrong_code(device: TOTPDevice) -> str:
    return f"{(int(totp_now(device)) + 1) % 1_000_000:06d}"


# name → (username, password, code) for a staff user "ops" with an authenticator app.
ATTEMPTS: dict[str, Callable[[TOTPDevice], tuple[str, str, str]]] = {
    "wrong password, no code": lambda d: ("ops", "wrong password", ""),
    "wrong password, right code": lambda d: ("ops", "wrong password", totp_now(d)),
    "right password, no code": lambda d: ("ops", ADMIN_PASSWORD, ""),
    "right password, wrong code": lambda d: ("ops", ADMIN_PASSWORD, _wrong_code(d)),
    "right password, wrong recovery code": lambda d: ("ops", ADMIN_PASSWORD, "aaaaaaaa"),
    "unknown user": lambda d: ("nobody", ADMIN_PASSWORD, totp_now(d)),
    "right password, not staff": lambda d: ("shopper", ADMIN_PASSWORD, ""),
    "right password, no second factor yet": lambda d: ("newops", ADMIN_PASSWORD, "123456"),
}


@pytest.fixture
def device(staff_user: Any) -> TOTPDevice:
    users = get_user_model().objects
    users.create_user("shopper", password=ADMIN_PASSWORD)
    users.create_user("newops", password=ADMIN_PASSWORD, is_staff=True)
    return TOTPDevice.objects.create(user=staff_user, name="phone", confirmed=True)


def _page(response: Any, username: str, code: str) -> str:
    """The answer with what legitimately differs between two requests taken out: the CSRF
    token, and the username and code typed (echoed back as they were sent)."""
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", html)
    html = html.replace(f'value="{username}"', 'value="USERNAME"')
    return html.replace(f'value="{code}"', 'value="CODE"') if code else html


def _attempt(device: TOTPDevice, name: str) -> tuple[int, str]:
    username, password, code = ATTEMPTS[name](device)
    response = Client().post(
        LOGIN,
        {"username": username, "password": password, "otp_token": code, "next": "/admin/"},
        REMOTE_ADDR="198.51.100.30",
    )
    return response.status_code, _page(response, username, code)


def test_every_kind_of_failure_gets_the_same_page(device: TOTPDevice) -> None:
    answers = {name: _attempt(device, name) for name in ATTEMPTS}

    baseline = answers["wrong password, no code"]
    assert baseline[0] == 200
    assert MESSAGE in baseline[1]
    assert ADMIN_PASSWORD not in baseline[1]
    different = [name for name, answer in answers.items() if answer != baseline]
    assert different == []


@pytest.mark.parametrize("name", [n for n in ATTEMPTS if not n.startswith("unknown")])
def test_each_failure_counts_toward_the_lockout(device: TOTPDevice, name: str) -> None:
    username = ATTEMPTS[name](device)[0]

    _attempt(device, name)
    _attempt(device, name)

    attempt = AccessAttempt.objects.get(username=username)
    assert attempt.failures_since_start == 2


def test_the_right_password_and_code_still_sign_in(device: TOTPDevice) -> None:
    client = Client()
    response = client.post(
        LOGIN,
        {"username": "ops", "password": ADMIN_PASSWORD, "otp_token": totp_now(device)},
        REMOTE_ADDR="198.51.100.30",
    )

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
