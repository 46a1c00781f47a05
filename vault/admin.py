"""Admin for merchants and keys. A new key's secret is rendered once, in the action's own
response, never stored in a message cookie or the session."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from payments_site.kernel.admin import ObjectActionsMixin, seconds

from .merchants import IssuedKey, api_key_create, api_key_revoke
from .models import ApiKey, Merchant, Token
from .services import REASON_MAX_LENGTH, token_revoke


class ApiKeyInline(admin.TabularInline[ApiKey, Merchant]):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("id", "prefix", "mode", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _show_once(request: HttpRequest, issued: list[IssuedKey]) -> HttpResponse:
    response = TemplateResponse(
        request,
        "admin/vault/api_keys_issued.html",
        {"title": "New API keys", "issued": issued, **admin.site.each_context(request)},
    )
    response["Cache-Control"] = "no-store"
    return response


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin[Merchant]):
    list_display = ("name", "id", "is_active", "created_at")
    search_fields = ("name", "id")
    list_filter = ("is_active",)
    readonly_fields = ("id", "created_at")
    inlines = [ApiKeyInline]
    actions = ["issue_test_key", "issue_live_key"]

    def _issue(self, request: HttpRequest, queryset: QuerySet[Merchant], mode: str) -> HttpResponse:
        actor = f"admin:{request.user.get_username()}"
        issued = [
            api_key_create(merchant=m, mode=mode, label="admin", actor=actor) for m in queryset
        ]
        return _show_once(request, issued)

    @admin.action(description="Issue a new test API key")
    def issue_test_key(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> HttpResponse:
        return self._issue(request, queryset, ApiKey.Mode.TEST)

    @admin.action(description="Issue a new live API key")
    def issue_live_key(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> HttpResponse:
        return self._issue(request, queryset, ApiKey.Mode.LIVE)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = (
        "prefix",
        "merchant",
        "mode",
        "label",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("mode", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("id", "prefix", "merchant__name", "merchant__id")
    readonly_fields = (
        "id",
        "merchant",
        "mode",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    fields = (
        "id",
        "merchant",
        "mode",
        "label",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Keys are issued from the merchant page so that the secret can be shown exactly once.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        actor = f"admin:{request.user.get_username()}"
        for api_key in queryset:
            api_key_revoke(api_key=api_key, actor=actor)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


# --- tokens -------------------------------------------------------------------------------------


class RevokeTokensForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        help_text="Recorded on each token and in the audit trail.",
        widget=forms.TextInput(attrs={"size": 60, "autofocus": True}),
    )


@admin.register(Token)
class TokenAdmin(ObjectActionsMixin, admin.ModelAdmin[Token]):
    """Masked metadata only. There is deliberately no way to reveal a card from here: only
    the processor adapter may call ``token_reveal``. The page is a view (nothing on a token is
    edited by hand); revoking is an action with its own form and permission."""

    list_display = (
        "id",
        "merchant",
        "brand",
        "masked_number",
        "expiry",
        "status",
        "created",
        "revoked",
    )
    list_filter = ("status", "brand", "created_at", "exp_year")
    search_fields = ("id", "merchant__id", "merchant__name", "last4", "fingerprint")
    list_select_related = ("merchant",)
    fields = (
        "id",
        "merchant",
        "brand",
        "masked_number",
        "expiry",
        "fingerprint",
        "status",
        "has_ciphertext",
        "created",
        "last_used",
        "expires_at",
        "revoked",
        "revoked_by",
        "revoked_reason",
    )
    readonly_fields = fields
    actions = ["revoke_selected"]
    object_actions = (("revoke", "Revoke"),)

    @admin.display(description="Number")
    def masked_number(self, token: Token) -> str:
        return token.masked_number

    @admin.display(description="Expiry")
    def expiry(self, token: Token) -> str:
        return f"{token.exp_month:02d}/{token.exp_year}"

    @admin.display(description="Card data held", boolean=True)
    def has_ciphertext(self, token: Token) -> bool:
        return token.card_data_id is not None

    @admin.display(description="Created", ordering="created_at")
    def created(self, token: Token) -> str:
        return seconds(token.created_at)

    @admin.display(description="Last used", ordering="last_used_at")
    def last_used(self, token: Token) -> str:
        return seconds(token.last_used_at)

    @admin.display(description="Revoked", ordering="revoked_at")
    def revoked(self, token: Token) -> str:
        return seconds(token.revoked_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a view page: no field of a token is edited by hand

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Tokens are revoked (shredded, metadata kept for the audit trail), never deleted.
        return False

    def has_revoke_permission(self, request: HttpRequest, obj: Token | None = None) -> bool:
        user: Any = request.user
        if obj is not None and obj.status != Token.Status.ACTIVE:
            return False
        return bool(user.has_perm("vault.change_token"))

    def _revoke_page(
        self, request: HttpRequest, form: RevokeTokensForm, tokens: Any, single: bool
    ) -> HttpResponse:
        return TemplateResponse(
            request,
            "admin/vault/token_revoke.html",
            {
                **self.admin_site.each_context(request),
                "title": "Revoke token" if single else "Revoke tokens",
                "form": form,
                "tokens": tokens,
                "single": single,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke_selected(
        self, request: HttpRequest, queryset: QuerySet[Token]
    ) -> HttpResponse | None:
        form = RevokeTokensForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            actor = f"admin:{request.user.get_username()}"
            count = 0
            for token in queryset:
                if token.status == Token.Status.ACTIVE:
                    token_revoke(token=token, actor=actor, reason=form.cleaned_data["reason"])
                    count += 1
            self.message_user(request, f"Revoked {count} token(s); their card data is destroyed.")
            return None
        return self._revoke_page(request, form, queryset, single=False)

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """One token's revocation, with the same reason form as the bulk action."""
        token = self.get_object(request, unquote(object_id))
        if token is None:
            raise Http404
        if not self.has_revoke_permission(request):
            raise PermissionDenied
        view_url = reverse("admin:vault_token_change", args=[token.pk])
        if token.status != Token.Status.ACTIVE:
            self.message_user(request, "This token is revoked already.", level=messages.WARNING)
            return redirect(view_url)
        form = RevokeTokensForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            actor = f"admin:{request.user.get_username()}"
            token_revoke(token=token, actor=actor, reason=form.cleaned_data["reason"])
            self.message_user(request, "Revoked the token; its card data is destroyed.")
            return redirect(view_url)
        return self._revoke_page(request, form, [token], single=True)
