"""What operators see: the read-only audit trail, alerts they acknowledge, the 24-hour
overview (its figures: test_overview.py). Pages work under the strict CSP (no inline script
or style)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.audit.models import AuditEvent
from monitoring.audit.services import audit_record
from monitoring.security.engine import signal_record
from monitoring.security.models import SecurityAlert
from monitoring.security.rules import Signal

pytestmark = pytest.mark.django_db


def _assert_csp_clean(content: bytes) -> None:
    assert b" style=" not in content
    for tag in re.findall(rb"<script[^>]*>", content):
        assert b"src=" in tag


def test_audit_trail_lists_with_filters_and_cannot_be_changed(admin_client: Client) -> None:
    event = audit_record(action="token.create", object_type="token", object_id="tok_1")

    listing = admin_client.get(
        reverse("admin:monitoring_auditevent_changelist") + "?outcome__exact=success"
    )
    detail = admin_client.get(reverse("admin:monitoring_auditevent_change", args=[event.pk]))
    delete = admin_client.post(
        reverse("admin:monitoring_auditevent_delete", args=[event.pk]), {"post": "yes"}
    )
    add = admin_client.get(reverse("admin:monitoring_auditevent_add"))

    assert listing.status_code == 200
    assert b"tok_1" in listing.content
    assert detail.status_code == 200
    assert b'name="actor"' not in detail.content  # rendered read-only, not as an input
    assert event.hash.encode() in detail.content
    assert delete.status_code == 403
    assert add.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_alerts_are_acknowledged_from_the_admin(admin_client: Client) -> None:
    (alert,) = signal_record(Signal.JTI_REPLAYED, ip="203.0.113.9")

    response = admin_client.post(
        reverse("admin:monitoring_securityalert_changelist"),
        {"action": "acknowledge", "_selected_action": [alert.pk]},
    )

    alert.refresh_from_db()
    assert response.status_code == 302
    assert alert.status == "acknowledged"
    assert alert.acknowledged_by == "admin:admin"
    assert alert.acknowledged_at is not None
    assert AuditEvent.objects.filter(
        action="security_alert.acknowledge", object_id=str(alert.pk), actor="admin:admin"
    ).exists()


def test_alerts_cannot_be_added_or_deleted(admin_client: Client) -> None:
    (alert,) = signal_record(Signal.JTI_REPLAYED, ip="203.0.113.9")

    assert admin_client.get(reverse("admin:monitoring_securityalert_add")).status_code == 403
    delete_url = reverse("admin:monitoring_securityalert_delete", args=[alert.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert SecurityAlert.objects.filter(pk=alert.pk).exists()


def test_the_landing_page_plots_under_the_strict_csp(admin_client: Client) -> None:
    signal_record(Signal.JTI_REPLAYED, ip="203.0.113.9")

    response = admin_client.get(reverse("admin:index"))

    assert response.content.count(b"<svg") >= 4
    assert b"<rect" in response.content
    _assert_csp_clean(response.content)
    assert "unsafe-inline" not in response["Content-Security-Policy"]


def test_the_alert_list_links_to_the_overview(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:monitoring_securityalert_changelist"))

    assert f'href="{reverse("admin:index")}">Last 24 hours<'.encode() in response.content
    _assert_csp_clean(response.content)


def _alert(**kwargs: Any) -> SecurityAlert:
    from datetime import UTC, datetime

    values: dict[str, Any] = {
        "rule": "card_testing.distinct_cards.ip",
        "scope": SecurityAlert.Scope.IP,
        "source": "203.0.113.9",
        "window_start": datetime(2026, 1, 2, 3, 0, tzinfo=UTC),
        "raised_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "observed": 9,
        "threshold": 8,
        "severity": SecurityAlert.Severity.CRITICAL,
        "detail": {
            "window_seconds": 600,
            "measure": "distinct",
            "related": {"merchant": "mer_abc", "session": "cs_def"},
        },
    }
    return SecurityAlert.objects.create(**{**values, **kwargs})


def test_alert_page_is_a_view_with_readable_linked_detail(admin_client: Client) -> None:
    alert = _alert()

    page = admin_client.get(
        reverse("admin:monitoring_securityalert_change", args=[alert.pk])
    ).content.decode()

    assert "<h1>View security alert</h1>" in page
    assert 'name="_save"' not in page
    assert 'name="note"' not in page
    assert "2026-01-02 03:04:05 UTC" in page
    assert '"related"' not in page  # no raw JSON
    assert "<dt>Window</dt><dd>10 min</dd>" in page
    merchant_url = reverse("admin:vault_merchant_change", args=["mer_abc"])
    session_url = reverse("admin:checkout_checkoutsession_change", args=["cs_def"])
    assert f'Merchant: <a href="{merchant_url}">mer_abc</a>' in page
    assert f'Checkout session: <a href="{session_url}">cs_def</a>' in page
    audit_url = reverse("admin:monitoring_auditevent_changelist") + "?q=203.0.113.9"
    assert f'<a href="{audit_url}">203.0.113.9</a>' in page
    ack_url = reverse("admin:monitoring_securityalert_acknowledge", args=[alert.pk])
    assert f'href="{ack_url}"' in page
    _assert_csp_clean(page.encode())


def test_alert_is_acknowledged_from_its_page_with_a_note(admin_client: Client) -> None:
    alert = _alert()
    ack_url = reverse("admin:monitoring_securityalert_acknowledge", args=[alert.pk])

    asked = admin_client.get(ack_url)
    done = admin_client.post(ack_url, {"note": "office NAT, known shopper"})
    again = admin_client.post(ack_url, {"note": "second"})

    alert.refresh_from_db()
    assert asked.status_code == 200
    assert 'name="note"' in asked.content.decode()
    assert done.status_code == again.status_code == 302
    assert (alert.status, alert.acknowledged_by, alert.note) == (
        "acknowledged",
        "admin:admin",
        "office NAT, known shopper",
    )
    (event,) = AuditEvent.objects.filter(action="security_alert.acknowledge")
    assert event.data == {"note": "office NAT, known shopper"}
    page = admin_client.get(reverse("admin:monitoring_securityalert_change", args=[alert.pk]))
    assert ack_url not in page.content.decode()


def test_staff_who_may_only_view_alerts_cannot_acknowledge(
    django_user_model: Any, client: Client
) -> None:
    from django.contrib.auth.models import Permission

    from tests.monitoring.support import otp_verified_login

    alert = _alert()
    clerk = django_user_model.objects.create_user("clerk", password="x" * 20, is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_securityalert"))
    otp_verified_login(client, clerk)
    ack_url = reverse("admin:monitoring_securityalert_acknowledge", args=[alert.pk])

    page = client.get(reverse("admin:monitoring_securityalert_change", args=[alert.pk]))
    refused = client.post(ack_url, {"note": "x"})

    assert page.status_code == 200
    assert ack_url not in page.content.decode()
    assert refused.status_code == 403
    assert SecurityAlert.objects.get(pk=alert.pk).status == "open"
    assert not AuditEvent.objects.filter(action="security_alert.acknowledge").exists()


def test_audit_times_show_to_the_second(admin_client: Client) -> None:
    event = audit_record(action="token.create", object_type="token", object_id="tok_1")

    listing = admin_client.get(reverse("admin:monitoring_auditevent_changelist"))

    assert f"{event.occurred_at:%Y-%m-%d %H:%M:%S} UTC" in listing.content.decode()


def test_apps_have_names_an_operator_reads(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:index")).content.decode()

    for name in ("Sign-in lockouts", "Second factor: authenticator apps"):
        assert name in page
    for raw in ("Axes<", "Otp_Totp", "Otp_Static", "otp_totp<", "AXES"):
        assert raw not in page
