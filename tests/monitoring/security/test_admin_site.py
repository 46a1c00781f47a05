"""Admin access: a second factor on every staff login (PCI DSS 8.4.2), enrolment by link, and
the login lockout (PCI DSS 8.3.4)."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from monitoring.audit.models import AuditEvent
from monitoring.security.mfa import mfa_enrolment_url, recovery_codes_issue
from monitoring.security.models import RecoveryCodeDevice
from monitoring.security.recovery_codes import recovery_code_digest
from tests.monitoring.conftest import ADMIN_PASSWORD
from tests.monitoring.support import totp_now
from tests.payments_site.test_settings import KMS_ENV, production_env
from tests.support.servers import ROOT

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


def _every_admin_page() -> list[str]:
    """Index, app indexes, every registered model's list and add pages, our own pages."""
    site = admin.site
    urls = [reverse("admin:index"), reverse("admin:password_change")]
    for model in site._registry:
        opts = model._meta
        urls.append(reverse("admin:app_list", args=[opts.app_label]))
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    urls.append(reverse("admin:mfa-recovery-codes"))
    return sorted(set(urls))


def _device(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def _login(client: Client, username: str, password: str, code: str = "") -> Any:
    return client.post(
        LOGIN,
        {"username": username, "password": password, "otp_token": code, "next": "/admin/"},
        REMOTE_ADDR="198.51.100.20",
    )


def test_a_password_only_session_reaches_no_admin_page(staff_user: Any) -> None:
    # given a staff user with a device, logged in with the password alone
    _device(staff_user)
    client = Client()
    client.force_login(staff_user)
    pages = _every_admin_page()
    assert len(pages) > 8

    # then every admin page sends it to the login page
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(LOGIN), url


def test_the_login_form_without_a_code_is_refused(staff_user: Any) -> None:
    _device(staff_user)
    client = Client()

    response = _login(client, "ops", ADMIN_PASSWORD)

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_password_and_authenticator_code_open_the_admin(staff_user: Any) -> None:
    device = _device(staff_user)
    client = Client()

    response = _login(client, "ops", ADMIN_PASSWORD, totp_now(device))

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_recovery_code_works_exactly_once(staff_user: Any) -> None:
    _device(staff_user)
    code = recovery_codes_issue(user=staff_user)[0]

    first = Client()
    assert _login(first, "ops", ADMIN_PASSWORD, code).status_code == 302
    assert first.get("/admin/").status_code == 200

    second = Client()
    assert _login(second, "ops", ADMIN_PASSWORD, code).status_code == 200
    assert second.get("/admin/").status_code == 302
    assert StaticToken.objects.filter(device__user=staff_user).count() == 9


def test_recovery_codes_are_stored_only_as_keyed_hashes(staff_user: Any, settings: Any) -> None:
    _device(staff_user)
    codes = recovery_codes_issue(user=staff_user)

    stored = list(
        StaticToken.objects.filter(device__user=staff_user).values_list("token", flat=True)
    )
    assert len(stored) == len(codes) == 10
    assert all(re.fullmatch(r"[0-9a-f]{16}", value) for value in stored)
    assert not set(stored) & set(codes)
    # keyed: the same code under another key is another digest, so a copy of the table alone
    # cannot be searched offline
    assert sorted(stored) == sorted(recovery_code_digest(c) for c in codes)
    assert recovery_code_digest(codes[0], secret="another key") not in stored

    # typed as people type them: upper case, spaced; and still good after a key rotation
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    typed = " ".join([codes[1][:4].upper(), codes[1][4:].upper()])
    client = Client()
    assert _login(client, "ops", ADMIN_PASSWORD, typed).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_wrong_recovery_code_is_refused_and_spends_nothing(staff_user: Any) -> None:
    _device(staff_user)
    recovery_codes_issue(user=staff_user)

    response = _login(Client(), "ops", ADMIN_PASSWORD, "aaaaaaaa")

    assert response.status_code == 200
    assert "Enter the correct username, password and authentication code" in (
        response.content.decode()
    )
    assert StaticToken.objects.filter(device__user=staff_user).count() == 10


def test_eleventh_wrong_password_locks_the_account_for_thirty_minutes(staff_user: Any) -> None:
    device = _device(staff_user)
    client = Client()

    # given ten wrong passwords (the tenth reaches the limit and is answered with the lockout)
    statuses = [_login(client, "ops", "wrong password").status_code for _ in range(10)]
    assert statuses == [200] * 9 + [429]

    # when the eleventh attempt brings the right password and code, it is locked out
    locked = _login(client, "ops", ADMIN_PASSWORD, totp_now(device))
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session

    # and 29 minutes after the last failure it still is
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=29))
    assert (
        _login(client, "ops", ADMIN_PASSWORD, totp_now(device, offset_steps=1)).status_code == 429
    )

    # from another address too (the username alone is locked)
    other = Client().post(
        LOGIN,
        {"username": "ops", "password": ADMIN_PASSWORD, "otp_token": totp_now(device)},
        REMOTE_ADDR="203.0.113.99",
    )
    assert other.status_code == 429

    # (each attempt made while locked restarts the 30 minutes: persisting only prolongs it)
    # and 30 minutes after the last attempt the right credentials work again
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=30, seconds=5))
    assert (
        _login(client, "ops", ADMIN_PASSWORD, totp_now(device, offset_steps=1)).status_code == 302
    )


def test_wrong_second_factor_codes_count_towards_the_lockout(staff_user: Any) -> None:
    device = _device(staff_user)
    client = Client()
    wrong = f"{(int(totp_now(device)) + 1) % 1_000_000:06d}"

    statuses = [_login(client, "ops", ADMIN_PASSWORD, wrong).status_code for _ in range(10)]

    assert statuses == [200] * 9 + [429]

    assert _login(client, "ops", ADMIN_PASSWORD, totp_now(device)).status_code == 429


def test_forwarded_for_does_not_change_the_address_axes_records(staff_user: Any) -> None:
    Client().post(
        LOGIN,
        {"username": "ops", "password": "nope", "otp_token": ""},
        REMOTE_ADDR="198.51.100.20",
        HTTP_X_FORWARDED_FOR="10.1.2.3",
    )

    assert AccessAttempt.objects.get().ip_address == "198.51.100.20"


# --- enrolment --------------------------------------------------------------------------------


def test_enrolment_by_link_with_password_qr_code_and_recovery_codes(
    staff_user: Any, settings: Any
) -> None:
    # django-otp delays the next try after a wrong code by a second; not what this tests
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    client = Client()
    link = mfa_enrolment_url(user=staff_user)

    # the link asks for the password first
    page = client.get(link)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert b'name="password"' in page.content
    assert client.post(link, {"step": "password", "password": "wrong"}).context["error"]

    # then shows a QR code (inline SVG) and the key
    qr = client.post(link, {"step": "password", "password": ADMIN_PASSWORD})
    assert qr.status_code == 200
    assert b"<svg" in qr.content
    assert "no-store" in qr["Cache-Control"]
    device = TOTPDevice.objects.get(user=staff_user, confirmed=False)

    # a wrong code is refused and changes nothing
    wrong = f"{(int(totp_now(device)) + 1) % 1_000_000:06d}"
    assert client.post(link, {"step": "code", "code": wrong}).context["error"]
    assert not TOTPDevice.objects.filter(user=staff_user, confirmed=True).exists()

    # the right code confirms the device, shows ten recovery codes once and opens the admin
    done = client.post(link, {"step": "code", "code": totp_now(device)})
    assert done.status_code == 200
    codes = done.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(action="mfa.enrol", outcome="success").count() == 1

    # and the link is dead from now on
    assert Client().get(link).status_code == 404


def test_a_tampered_or_non_staff_link_is_refused(staff_user: Any, django_user_model: Any) -> None:
    link = mfa_enrolment_url(user=staff_user)
    shopper = django_user_model.objects.create_user("shopper", password="x" * 20)

    assert Client().get(link[:-3] + "abc/").status_code == 404
    assert Client().get(mfa_enrolment_url(user=shopper)).status_code == 404


def test_a_password_change_invalidates_the_link(staff_user: Any) -> None:
    link = mfa_enrolment_url(user=staff_user)
    staff_user.set_password("another long password")
    staff_user.save()

    assert Client().get(link).status_code == 404


def test_pages_keep_the_strict_csp_without_inline_script(staff_user: Any) -> None:
    client = Client()
    link = mfa_enrolment_url(user=staff_user)
    qr = client.post(link, {"step": "password", "password": ADMIN_PASSWORD})

    for response in (Client().get(LOGIN), qr):
        policy = response["Content-Security-Policy"]
        assert "unsafe-inline" not in policy
        assert "script-src 'self'" in policy
        scripts = re.findall(rb"<script[^>]*>", response.content)
        assert all(b"src=" in tag for tag in scripts)
        assert b" style=" not in response.content


def test_recovery_codes_can_be_replaced_by_a_verified_admin(admin_client: Client) -> None:
    url = reverse("admin:mfa-recovery-codes")

    response = admin_client.post(url)

    assert response.status_code == 200
    assert len(response.context["codes"]) == 10
    assert "no-store" in response["Cache-Control"]


def test_the_admin_never_shows_recovery_codes_or_totp_keys(
    admin_client: Client, staff_user: Any
) -> None:
    device = _device(staff_user)
    codes = recovery_codes_issue(user=staff_user)
    static = StaticToken.objects.filter(token=recovery_code_digest(codes[0])).get().device

    pages = [
        admin_client.get(reverse("admin:otp_static_staticdevice_change", args=[static.pk])),
        admin_client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk])),
    ]

    assert [p.status_code for p in pages] == [200, 200]
    for page in pages:
        assert not any(code.encode() in page.content for code in codes)
        assert device.key.encode() not in page.content


def test_enrolment_link_command(staff_user: Any) -> None:
    out = StringIO()

    call_command("mfa_enrolment_link", "ops", "--origin", "https://pay.example.com", stdout=out)

    assert out.getvalue().startswith("https://pay.example.com/admin/mfa/enrol/")
    path = out.getvalue().strip().removeprefix("https://pay.example.com")
    assert Client().get(path).status_code == 200


def test_bootstrap_demo_prints_the_admin_enrolment_link() -> None:
    out = StringIO()

    call_command("bootstrap_demo", stdout=out)
    again = StringIO()
    call_command("bootstrap_demo", stdout=again)

    link = re.search(r"https://localhost:8443(/admin/mfa/enrol/\S+/)", out.getvalue())
    assert link is not None
    assert Client().get(link.group(1)).status_code == 200
    # not enrolled yet: the next run prints a fresh link, and no password
    assert "/admin/mfa/enrol/" in again.getvalue()
    assert "password=" not in again.getvalue()


def test_production_refuses_to_turn_the_second_factor_off() -> None:
    env = {**production_env(), **KMS_ENV, "ADMIN_MFA_REQUIRED": "false"}

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert "ADMIN_MFA_REQUIRED cannot be false in production" in result.stderr


def test_codes_stored_in_clear_before_hashing_are_hashed_by_the_migration(
    staff_user: Any,
) -> None:
    import importlib

    from django.apps import apps
    from django_otp.plugins.otp_static.models import StaticDevice

    _device(staff_user)
    legacy = StaticDevice.objects.create(user=staff_user, name="Recovery codes")
    StaticToken.objects.create(device=legacy, token="abcd2345")
    migration = importlib.import_module("monitoring.migrations.0005_recovery_code_device")

    migration.hash_stored_codes(apps, None)
    migration.hash_stored_codes(apps, None)  # and a second run changes nothing

    assert list(StaticToken.objects.values_list("token", flat=True)) == [
        recovery_code_digest("abcd2345")
    ]
    client = Client()
    assert _login(client, "ops", ADMIN_PASSWORD, "abcd2345").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_recovery_code_digests_are_stable_across_releases() -> None:
    # Stored codes are only keyed hashes: a change of key derivation or salt would lock every
    # operator out of their recovery codes, so the digest of a known code is pinned.
    assert recovery_code_digest("abcd-2345", secret="known-answer-key") == "f64a36762016f5ab"


def test_recovery_codes_download_as_a_text_file_that_no_cache_keeps(admin_client: Client) -> None:
    shown = admin_client.post(reverse("admin:mfa-recovery-codes"))
    codes = shown.context["codes"]
    download = reverse("admin:mfa-recovery-codes-download")
    assert f'action="{download}"' in shown.content.decode()

    response = admin_client.post(download, {"codes": codes})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="tessera-recovery-codes.txt"'
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert [line for line in body.splitlines() if line in codes] == codes
    assert (
        AuditEvent.objects.filter(
            action="mfa.recovery_codes.download", outcome="success", actor="staff:admin"
        ).count()
        == 1
    )


@pytest.mark.parametrize(
    "posted",
    [
        pytest.param(lambda codes: codes[:-1], id="some-missing"),
        pytest.param(lambda codes: [*codes[:-1], "not a code"], id="one-foreign"),
        pytest.param(lambda codes: [*codes[:-1], codes[0]], id="one-twice"),
        pytest.param(lambda codes: [], id="none"),
    ],
)
def test_only_the_users_current_codes_are_written_to_a_file(
    admin_client: Client, posted: Any
) -> None:
    codes = admin_client.post(reverse("admin:mfa-recovery-codes")).context["codes"]

    response = admin_client.post(
        reverse("admin:mfa-recovery-codes-download"), {"codes": posted(codes)}
    )

    assert response.status_code == 400
    assert "Content-Disposition" not in response
    assert not any(code in response.content.decode() for code in codes)
    assert (
        AuditEvent.objects.filter(action="mfa.recovery_codes.download", outcome="denied").count()
        == 1
    )


def test_spent_codes_are_not_downloaded_again(admin_client: Client, admin_user: Any) -> None:
    codes = admin_client.post(reverse("admin:mfa-recovery-codes")).context["codes"]
    device = RecoveryCodeDevice.objects.get(user=admin_user)
    assert device.verify_token(codes[0])

    response = admin_client.post(reverse("admin:mfa-recovery-codes-download"), {"codes": codes})

    assert response.status_code == 400
    assert admin_client.get(reverse("admin:mfa-recovery-codes-download")).status_code == 405
