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

from checkout.api.common import IDEMPOTENCY_PARAMETER, page_serializer, problem_responses
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
    an object, 409/422 when it takes an Idempotency-Key, 413 when it takes a body (every body
    is read under one size cap), 400 everywhere (an undeclared parameter is refused) — so
    clients (and
    schemathesis) see the whole contract."""
    problem = {"$ref": "#/components/schemas/Problem"}
    generic = {
        "400": "The request is not valid: `parameter_unknown` (a query parameter or body "
        "member this operation does not declare), `parameter_invalid_type`, `validation_error`.",
        "401": "Missing or invalid API key.",
        "403": "This merchant is suspended (`merchant_suspended`): reads work, writes do not.",
        "404": "No such object for this merchant.",
        "409": "A request with this Idempotency-Key is still running (`idempotency_key_in_use`).",
        "413": "The request body is larger than this API accepts (`request_too_large`).",
        "422": "This Idempotency-Key was used with a different request (`idempotency_key_reused`).",
        "429": "Too many requests for this API key; see Retry-After.",
        "503": "A service this request needs is not answering; nothing was done. "
        "Retry after Retry-After seconds.",
    }
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
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
            if method != "get" and "401" in wanted:
                wanted.append("403")  # a suspended merchant reads but does not write
            if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])):
                wanted += ["409", "422"]
            if "requestBody" in operation:
                wanted.append("413")
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
                    ),
                    IDEMPOTENCY_PARAMETER,
                ],
                responses={200: TokenOutputSerializer},
            )
            def delete(self, request: Any, token_id: str) -> Any:
                return super().delete(request, token_id)

        return Documented


_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problems(**descriptions: str) -> dict[str, Any]:
    return {
        status: {"description": text, "content": {"application/problem+json": {"schema": _PROBLEM}}}
        for status, text in ((s.removeprefix("s"), t) for s, t in descriptions.items())
    }


CARD_INGEST_OPERATION: dict[str, Any] = {
    "operationId": "vault_cards_create",
    "summary": "Tokenise a sealed card",
    "description": (
        "The vault's card ingest: a compact ES256 JWS (`typ: card+jwt`) sealed by the checkout, "
        "carrying the browser's JWE. Authenticated by its signature, not by an API key. Every "
        "refusal is problem+json with a reason `code`; nothing of the token is logged."
    ),
    "tags": ["vault"],
    "security": [],
    "requestBody": {
        "required": True,
        "content": {
            "application/jwt": {
                "schema": {
                    "type": "string",
                    "maxLength": 8192,
                    "pattern": r"^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$",
                }
            }
        },
    },
    "responses": {
        "201": {
            "description": "The card's token and its masked metadata.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CardToken"}}},
        },
        **_problems(
            s400="Not a card token of the one accepted shape.",
            s401="Signature, key, type, issuer, audience, time or session check failed.",
            s409="This card token was used already.",
            s413="A card token is at most 8 KiB.",
            s415="Send Content-Type: application/jwt.",
            s422="The card is not valid (field errors).",
            s429="The source cools off after unusual activity; see Retry-After.",
            s503="A service this request needs is not answering; see Retry-After.",
        ),
    },
}

JWKS_OPERATION: dict[str, Any] = {
    "operationId": "jwks_retrieve",
    "summary": "The vault's public keys",
    "description": (
        "ES256 verification keys (`use: sig`) and the encryption key browsers encrypt cards to "
        "(`use: enc`), previous ones while still valid. Cacheable for five minutes."
    ),
    "tags": ["vault"],
    "security": [],
    "responses": {
        "200": {
            "description": "A JWK Set (RFC 7517).",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Jwks"}}},
        },
        **_problems(s400="Unknown query parameter."),
    },
}

TRANSPORT_SCHEMAS: dict[str, Any] = {
    "CardToken": {
        "type": "object",
        "required": ["token", "brand", "last4", "exp_month", "exp_year", "fingerprint"],
        "properties": {
            "token": {"type": "string", "pattern": "^tok_"},
            "brand": {"type": "string"},
            "last4": {"type": "string", "pattern": "^[0-9]{4}$"},
            "exp_month": {"type": "integer", "minimum": 1, "maximum": 12},
            "exp_year": {"type": "integer"},
            "fingerprint": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "Jwks": {
        "type": "object",
        "required": ["keys"],
        "properties": {
            "keys": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kty", "kid", "use", "alg"],
                    "properties": {
                        "kty": {"type": "string", "enum": ["EC", "RSA"]},
                        "kid": {"type": "string"},
                        "use": {"type": "string", "enum": ["sig", "enc"]},
                        "alg": {"type": "string"},
                    },
                },
            }
        },
        "additionalProperties": False,
    },
}


def add_vault_transport(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """``POSTPROCESSING_HOOKS``: the vault's plain Django endpoints (the card ingest and the
    JWKS) in the same contract as the API, so clients and schemathesis see them too."""
    paths = result.setdefault("paths", {})
    paths["/vault/v1/cards"] = {"post": CARD_INGEST_OPERATION}
    paths["/.well-known/jwks.json"] = {"get": JWKS_OPERATION}
    result.setdefault("components", {}).setdefault("schemas", {}).update(TRANSPORT_SCHEMAS)
    return result


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """``POSTPROCESSING_HOOKS``: OpenAPI links from each create operation to every operation on
    the object it created (``/things`` → ``/things/{thing_id}…`` with the answer's ``id``), and
    from the card ingest to the token it made, so stateful tests can follow real objects."""
    paths = result.get("paths", {})
    for path, operations in paths.items():
        create = operations.get("post")
        if create is None or "201" not in create.get("responses", {}):
            continue
        if path == "/vault/v1/cards":
            targets, value = _children(paths, "/api/v1/tokens"), "$response.body#/token"
        else:
            targets, value = _children(paths, path), "$response.body#/id"
        links = {
            target["operationId"]: {
                "operationId": target["operationId"],
                "parameters": {f"path.{param}": value},
            }
            for param, target in targets
        }
        if links:
            create["responses"]["201"]["links"] = links
    return result


def _children(paths: dict[str, Any], parent: str) -> list[tuple[str, dict[str, Any]]]:
    """(parameter, operation) for each operation under ``parent/{parameter}``."""
    found = []
    for path, operations in paths.items():
        rest = path.removeprefix(parent + "/")
        if rest == path or not rest.startswith("{"):
            continue
        param = rest[1:].split("}", 1)[0]
        found += [(param, operation) for operation in operations.values()]
    return found
