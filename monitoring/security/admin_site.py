"""The admin site: a second factor for every staff login (PCI DSS 8.4.2), enrolment by link.

``TesseraAdminSite`` replaces ``admin.site`` (``monitoring.apps.TesseraAdminConfig``). With
``ADMIN_MFA_REQUIRED`` (always on in production) a session reaches an admin page only once a
confirmed TOTP device or a recovery code has verified it: a password-only login is treated as
not staff at all. A wrong code counts as a failed login for axes, so codes cannot be brute
forced under the lockout either, and every failure gets the same answer.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate, login
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.plugins.otp_totp.models import TOTPDevice

from monitoring.security import mfa
from monitoring.security.models import RecoveryCodeDevice
from monitoring.security.overview import overview_build

SESSION_ENROL = "monitoring_mfa_enrol"


def overview_livemode(request: HttpRequest) -> bool:
    """The mode the landing page shows: the one asked for, else live where live mode can take
    payments (``PROCESSOR_LIVE`` set) and test where only the sandbox runs, so that a
    development admin opens on its own test activity rather than on empty live figures."""
    asked = request.GET.get("mode")
    if asked in {"live", "test"}:
        return asked == "live"
    return bool(getattr(settings, "PROCESSOR_LIVE", ""))


def mfa_required() -> bool:
    return bool(getattr(settings, "ADMIN_MFA_REQUIRED", True))


class _OneTimeCodeInput(forms.TextInput):
    """A code is never written back into the page: it is spent or wrong either way."""

    def format_value(self, value: Any) -> str | None:
        return None


class MfaAdminAuthenticationForm(OTPAdminAuthenticationForm):
    """Username, password and one code: from the authenticator app or a recovery code."""

    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_token = forms.CharField(
        required=False,
        label=_("Authentication code"),
        widget=_OneTimeCodeInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
    )

    def _chosen_device(self, user: Any) -> Any:
        """Six digits are an authenticator code, anything else a recovery code: each is checked
        against its own device only, so a typo never throttles the other one."""
        token = (self.cleaned_data.get("otp_token") or "").replace(" ", "")
        self.cleaned_data["otp_token"] = token
        if token.isdigit():
            return TOTPDevice.objects.filter(user=user, confirmed=True).first()
        return RecoveryCodeDevice.objects.filter(user=user, confirmed=True).first()

    # One answer for every failure: telling a wrong password from a missing or wrong second
    # factor would confirm the password to whoever is guessing it.
    refusal_message = _(
        "Enter the correct username, password and authentication code for a staff account."
    )

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError as exc:
            if self.user_cache is not None:
                # The password was right and something else was not (the second factor, or
                # the account is not staff): a failed login all the same, for axes' lockout.
                user_login_failed.send(
                    sender=__name__,
                    credentials={"username": self.user_cache.get_username()},
                    request=self.request,
                )
            raise forms.ValidationError(self.refusal_message, code="invalid_login") from exc

    def _update_form(self, user: Any) -> None:
        """django-otp refills the password and lists the user's devices once the password
        was right: the page would show which factor failed. The form stays as it was."""


class TesseraAdminSite(AdminSite):
    site_header = "Tessera operations"
    site_title = "Tessera"
    index_title = "Operations"
    # The landing page: the last 24 hours (for those who may see alerts), then the apps.
    index_template = "monitoring/overview_index.html"
    # The app list is on the landing page and in the breadcrumbs; without the sidebar a list
    # keeps every column in view at 1,400 px.
    enable_nav_sidebar = False

    @property
    def login_form(self) -> type[AdminAuthenticationForm]:  # type: ignore[override]
        return MfaAdminAuthenticationForm if mfa_required() else AdminAuthenticationForm

    @property
    def login_template(self) -> str | None:  # type: ignore[override]
        return "monitoring/mfa/login.html" if mfa_required() else None

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        if not mfa_required():
            return True
        is_verified = getattr(request.user, "is_verified", None)
        return bool(is_verified and is_verified())

    def get_urls(self) -> list[URLResolver | URLPattern]:
        own: list[URLResolver | URLPattern] = [
            path("mfa/enrol/<str:token>/", self.mfa_enrol_view, name="mfa-enrol"),
            path(
                "mfa/recovery-codes/",
                self.admin_view(self.recovery_codes_view),
                name="mfa-recovery-codes",
            ),
            path(
                "mfa/recovery-codes/download/",
                self.admin_view(self.recovery_codes_download_view),
                name="mfa-recovery-codes-download",
            ),
        ]
        return own + super().get_urls()

    # --- enrolment ------------------------------------------------------------------------

    def _render(
        self, request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
    ) -> HttpResponse:
        response = TemplateResponse(
            request,
            template,
            {**self.each_context(request), **context},
            status=status,
        )
        # Secrets (the TOTP key, recovery codes) must not be kept by any cache.
        response["Cache-Control"] = "no-store"
        return response

    @method_decorator([sensitive_post_parameters("password", "code"), csrf_protect, never_cache])
    def mfa_enrol_view(self, request: HttpRequest, token: str) -> HttpResponse:
        user = mfa.mfa_enrolment_user(token=token)
        title = _("Set up two-factor authentication")
        if user is None:
            return self._render(
                request, "monitoring/mfa/enrol_invalid.html", {"title": title}, status=404
            )
        state = request.session.get(SESSION_ENROL) or {}
        pending = state.get("user") == user.pk
        context: dict[str, Any] = {"title": title, "enrol_user": user}

        if request.method == "POST" and request.POST.get("step") == "password":
            authed = authenticate(
                request, username=user.get_username(), password=request.POST.get("password", "")
            )
            if authed is None or authed.pk != user.pk:
                context["error"] = _("That password is not right.")
                return self._render(request, "monitoring/mfa/enrol_password.html", context)
            device = mfa.totp_device_start(user=user)
            request.session[SESSION_ENROL] = {"user": user.pk, "device": device.pk}
            return self._render_qr(request, context, device)

        if request.method == "POST" and request.POST.get("step") == "code" and pending:
            enrolment = mfa.totp_device_confirm(
                user=user, device_id=state["device"], code=request.POST.get("code", "")
            )
            if enrolment is None:
                device = TOTPDevice.objects.filter(pk=state["device"]).first()
                if device is None:
                    return self._render(request, "monitoring/mfa/enrol_password.html", context)
                context["error"] = _("That code is not right. Check the time on your phone.")
                return self._render_qr(request, context, device)
            request.session.pop(SESSION_ENROL, None)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            otp_login(request, enrolment.device)
            context["codes"] = enrolment.recovery_codes
            return self._render(request, "monitoring/mfa/recovery_codes.html", context)

        return self._render(request, "monitoring/mfa/enrol_password.html", context)

    def _render_qr(
        self, request: HttpRequest, context: dict[str, Any], device: TOTPDevice
    ) -> HttpResponse:
        context["qr_svg"] = mfa.totp_qr_svg(device=device)
        context["secret"] = mfa.totp_secret_base32(device=device)
        return self._render(request, "monitoring/mfa/enrol_qr.html", context)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """The last 24 hours at a glance, from the database, for anyone who may see alerts:
        one mode at a time (``?mode=live`` / ``?mode=test``)."""
        extra = dict(extra_context or {})
        if request.user.has_perm("monitoring.view_securityalert"):
            extra["o"] = overview_build(livemode=overview_livemode(request))
        return super().index(request, extra)

    def recovery_codes_view(self, request: HttpRequest) -> HttpResponse:
        context: dict[str, Any] = {"title": _("Recovery codes"), "enrol_user": request.user}
        if request.method == "POST":
            context["codes"] = mfa.recovery_codes_issue(user=request.user)
        return self._render(request, "monitoring/mfa/recovery_codes.html", context)

    @method_decorator([sensitive_post_parameters("codes"), require_POST])
    def recovery_codes_download_view(self, request: HttpRequest) -> HttpResponse:
        """The codes just shown, as a text file: posted back from that page (the server keeps
        only their hashes), written only if they are this user's current, unspent set."""
        text = mfa.recovery_codes_file(user=request.user, codes=request.POST.getlist("codes"))
        if text is None:
            return self._render(
                request,
                "monitoring/mfa/recovery_codes.html",
                {
                    "title": _("Recovery codes"),
                    "enrol_user": request.user,
                    "error": _(
                        "These are not your current recovery codes: make new ones to download."
                    ),
                },
                status=400,
            )
        response = HttpResponse(text, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="tessera-recovery-codes.txt"'
        response["Cache-Control"] = "no-store"
        return response
