"""OpenAPI extras: the API-key security scheme and the docs views.

The docs UI is drf-spectacular's Swagger "split" view: its initialiser is a separate script
URL instead of an inline ``<script>``, so the strict CSP (script-src 'self' + nonce) holds;
our template only adds the CSP nonce to its one ``<style>`` block. Assets come from
drf-spectacular-sidecar's static files (no CDN).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from drf_spectacular.views import SpectacularSwaggerSplitView

from checkout.api.common import page_serializer, problem_responses
from vault.serializers import TokenOutputSerializer


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
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


class MerchantMeApiSchema(OpenApiViewExtension):
    """Documents the vault's ``GET /api/v1/merchant`` without the vault importing checkout."""

    target_class = "vault.api.MerchantMeApi"

    def view_replacement(self) -> type[Any]:
        target: Any = self.target_class

        class Documented(target):
            @extend_schema(
                operation_id="merchant_retrieve",
                summary="The merchant behind this API key",
                responses={200: target.OutputSerializer},
            )
            def get(self, request: Any) -> Any:
                return super().get(request)

        return Documented


def add_problem_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """``POSTPROCESSING_HOOKS``: every operation documents the problem+json answers it can
    give whatever its view declares — 401/429/503 when it needs a key, 404 when its path names
    an object, 400 everywhere (an undeclared parameter is refused) — so clients (and
    schemathesis) see the whole contract."""
    problem = {"$ref": "#/components/schemas/Problem"}
    generic = {
        "400": "The request is not valid: `parameter_unknown` (a query parameter or body "
        "member this operation does not declare), `parameter_invalid_type`, `validation_error`.",
        "401": "Missing or invalid API key.",
        "404": "No such object for this merchant.",
        "429": "Too many requests for this API key; see Retry-After.",
        "503": "A service this request needs is not answering; nothing was done. "
        "Retry after Retry-After seconds.",
    }
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            # Group the docs by resource (/api/v1/charges/… → "charges") instead of "v1".
            resource = path.removeprefix("/api/v1/").split("/", 1)[0]
            operation["tags"] = [resource]
            wanted = []
            if any(requirement for requirement in operation.get("security", [])):
                # A key's lockout and rate counters live in Redis: without it, 503.
                wanted += ["401", "429", "503"]
            if "{" in path:
                wanted.append("404")
            wanted.append("400")  # parameters are strict on every operation
            responses = operation.setdefault("responses", {})
            for status in wanted:
                responses.setdefault(
                    status,
                    {
                        "description": generic[status],
                        "content": {"application/problem+json": {"schema": problem}},
                    },
                )
    return result


class TokenListApiSchema(OpenApiViewExtension):
    """Documents the vault's ``GET /api/v1/tokens`` (the same list shape as charges)."""

    target_class = "vault.api.TokenListApi"

    def view_replacement(self) -> type[Any]:
        target: Any = self.target_class
        page = page_serializer("TokenPage", TokenOutputSerializer)

        class Documented(target):
            @extend_schema(
                operation_id="tokens_list",
                summary="List tokens (masked metadata)",
                parameters=[
                    extend_schema_serializer(component_name="TokenFilter")(target.InputSerializer)
                ],
                # An unknown ``starting_after`` is a 400 naming it, as in every list.
                responses={200: page, **problem_responses(400, 401, 429)},
            )
            def get(self, request: Any) -> Any:
                return super().get(request)

        return Documented


class TokenDetailApiSchema(OpenApiViewExtension):
    """Documents the vault's ``GET`` / ``DELETE /api/v1/tokens/{token_id}``."""

    target_class = "vault.api.TokenDetailApi"

    def view_replacement(self) -> type[Any]:
        target: Any = self.target_class

        class Documented(target):
            @extend_schema(
                operation_id="tokens_retrieve",
                summary="Retrieve a token (masked metadata)",
                responses={200: TokenOutputSerializer},
            )
            def get(self, request: Any, token_id: str) -> Any:
                return super().get(request, token_id)

            @extend_schema(
                operation_id="tokens_revoke",
                summary="Revoke a token (crypto-shreds the card)",
                parameters=[
                    extend_schema_serializer(component_name="TokenRevoke")(
                        target.DeleteInputSerializer
                    )
                ],
                responses={200: TokenOutputSerializer},
            )
            def delete(self, request: Any, token_id: str) -> Any:
                return super().delete(request, token_id)

        return Documented
