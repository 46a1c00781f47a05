"""OpenAPI extras: the API-key security scheme and the docs views.

The docs UI is drf-spectacular's Swagger "split" view: its initialiser is a separate script
URL instead of an inline ``<script>``, so the strict CSP (script-src 'self' + nonce) holds;
our template only adds the CSP nonce to its one ``<style>`` block. Assets come from
drf-spectacular-sidecar's static files (no CDN).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "vault.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sk_test_… or sk_live_…",
            "description": "A merchant secret key: `Authorization: Bearer sk_test_…`.",
        }


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "checkout/swagger_ui.html"


class MerchantMeApiSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    """Documents the vault's ``GET /api/v1/merchant`` without the vault importing checkout."""

    target_class = "vault.api.MerchantMeApi"

    def view_replacement(self) -> type[Any]:
        target: Any = self.target_class

        class Documented(target):  # type: ignore[misc,valid-type]
            @extend_schema(
                operation_id="merchant_retrieve",
                summary="The merchant behind this API key",
                responses={200: target.OutputSerializer},
            )
            def get(self, request: Any) -> Any:
                return super().get(request)

        return Documented
