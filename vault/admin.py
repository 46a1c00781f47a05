"""Admin for merchants and keys. A new key's secret is rendered once, in the action's own
response, never stored in a message cookie or the session."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

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
class TokenAdmin(admin.ModelAdmin[Token]):
    """Masked metadata only. There is deliberately no way to reveal a card from here: only
    the processor adapter may call ``token_reveal``."""

    list_display = (
        "id",
        "merchant",
        "brand",
        "masked_number",
        "expiry",
        "status",
        "created_at",
        "last_used_at",
        "revoked_at",
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
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
        "revoked_reason",
    )
    readonly_fields = fields
    actions = ["revoke_selected"]

    @admin.display(description="Number")
    def masked_number(self, token: Token) -> str:
        return token.masked_number

    @admin.display(description="Expiry")
    def expiry(self, token: Token) -> str:
        return f"{token.exp_month:02d}/{token.exp_year}"

    @admin.display(description="Card data held", boolean=True)
    def has_ciphertext(self, token: Token) -> bool:
        return token.card_data_id is not None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Tokens are revoked (shredded, metadata kept for the audit trail), never deleted.
        return False

    @admin.action(description="Revoke selected tokens", permissions=["change"])
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
        return TemplateResponse(
            request,
            "admin/vault/token_revoke.html",
            {
                **self.admin_site.each_context(request),
                "title": "Revoke tokens",
                "form": form,
                "tokens": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )
