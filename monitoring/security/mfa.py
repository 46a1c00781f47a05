"""Second factor for staff (PCI DSS 8.4.2): TOTP devices and single-use recovery codes.

New staff enrol through a signed link (``mfa_enrolment_url``) printed by ``make run`` or
``manage.py mfa_enrolment_link USER``. The link alone is not enough: the page asks for the
account's password first (through the authentication backends, so axes counts failures).
It stops working once a device is confirmed or the password changes, and after
``MFA_ENROLMENT_MAX_AGE`` seconds.
"""

from __future__ import annotations

import hashlib
from base64 import b32encode
from dataclasses import dataclass
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from monitoring.audit.services import audit_record
from monitoring.security.models import RecoveryCodeDevice
from monitoring.security.recovery_codes import recovery_code_digest

_SALT = "monitoring.mfa.enrolment"
RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


def _enrolment_state(user: Any) -> str:
    """Changes when the password changes or a device is confirmed: old links die then."""
    devices = ",".join(
        str(pk)
        for pk in TOTPDevice.objects.filter(user=user, confirmed=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    material = f"{user.pk}|{user.password}|{devices}".encode()
    return hashlib.sha256(material).hexdigest()[:24]


def mfa_enrolment_token(*, user: Any) -> str:
    return signing.dumps({"u": user.pk, "s": _enrolment_state(user)}, salt=_SALT, compress=True)


def mfa_enrolment_url(*, user: Any) -> str:
    """Path of ``user``'s enrolment page (prefix it with the site's origin)."""
    return reverse("admin:mfa-enrol", kwargs={"token": mfa_enrolment_token(user=user)})


def mfa_enrolment_user(*, token: str) -> Any | None:
    """The staff user the link was made for, if it is still valid."""
    max_age = getattr(settings, "MFA_ENROLMENT_MAX_AGE", 72 * 3600)
    try:
        payload = signing.loads(token, salt=_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    # Signed by us, still typed before use: a payload of another shape is no enrolment.
    if not isinstance(payload, dict) or set(payload) != {"u", "s"}:
        return None
    if not isinstance(payload["u"], int) or isinstance(payload["u"], bool):
        return None
    if not isinstance(payload["s"], str):
        return None
    user = get_user_model().objects.filter(pk=payload["u"], is_active=True).first()
    if user is None or not user.is_staff or payload["s"] != _enrolment_state(user):
        return None
    return user


def mfa_has_device(*, user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def totp_device_start(*, user: Any) -> TOTPDevice:
    """A fresh unconfirmed device (any earlier unconfirmed one is discarded)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def totp_qr_svg(*, device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG: no image request, no CSP exception."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


def totp_secret_base32(*, device: TOTPDevice) -> str:
    """The key for typing into an app by hand, in groups of four."""
    raw = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    recovery_codes: list[str]


@transaction.atomic
def totp_device_confirm(*, user: Any, device_id: int, code: str) -> Enrolment | None:
    """Confirm the device if ``code`` is right; issue recovery codes. None if it is wrong."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(pk=device_id, user=user, confirmed=False)
        .first()
    )
    if device is None or not device.verify_token(code.replace(" ", "")):
        audit_record(
            action="mfa.enrol",
            outcome="failure",
            actor=f"staff:{user.get_username()}",
            object_type="user",
            object_id=str(user.pk),
            reason="wrong_code",
        )
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = recovery_codes_issue(user=user)
    audit_record(
        action="mfa.enrol",
        actor=f"staff:{user.get_username()}",
        object_type="user",
        object_id=str(user.pk),
    )
    return Enrolment(device=device, recovery_codes=codes)


@transaction.atomic
def recovery_codes_issue(*, user: Any) -> list[str]:
    """Replace the user's recovery codes with new ones, each good once. Only their keyed
    hashes are stored: the codes are shown once and the caller must not keep them."""
    StaticDevice.objects.filter(user=user).delete()
    device = RecoveryCodeDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        [StaticToken(device=device, token=recovery_code_digest(c)) for c in codes]
    )
    audit_record(
        action="mfa.recovery_codes.issue",
        actor=f"staff:{user.get_username()}",
        object_type="user",
        object_id=str(user.pk),
    )
    return codes


def recovery_codes_file(*, user: Any, codes: list[str]) -> str | None:
    """The text file of recovery codes just shown to ``user``, for them to keep, or None.

    Only the user's own unspent codes, all of them and each once, are written back: the
    server never turns other posted text into a file it serves. Audited either way.
    """
    normalized = [" ".join(c.split()) for c in codes if c.strip()]
    device = RecoveryCodeDevice.objects.filter(user=user, confirmed=True).first()
    stored = set(device.token_set.values_list("token", flat=True)) if device else set()
    digests = [recovery_code_digest(c) for c in normalized]
    valid = bool(normalized) and len(set(digests)) == len(digests) == len(stored)
    valid = valid and set(digests) == stored
    audit_record(
        action="mfa.recovery_codes.download",
        outcome="success" if valid else "denied",
        actor=f"staff:{user.get_username()}",
        object_type="user",
        object_id=str(user.pk),
        reason="" if valid else "not_the_current_codes",
    )
    if not valid:
        return None
    lines = [
        f"Tessera admin recovery codes for {user.get_username()}",
        "Each code works once, in place of an authenticator code.",
        "Making new recovery codes makes these stop working.",
        "",
        *normalized,
        "",
    ]
    return "\n".join(lines)
