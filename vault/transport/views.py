"""HTTP edge of the vault: the JWKS and the card ingest endpoint."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from monitoring.observability.clientip import client_ip
from monitoring.security.cooloff import cooloff_enforce
from payments_site.kernel.errors import DomainError
from payments_site.problems import error_response
from vault.keys import KeyPurpose, get_key_service

from .ingest import (
    MAX_TOKEN_BYTES,
    CardTokenTooLarge,
    UnsupportedCardMediaType,
    card_ingest,
    ingest_refusal_record,
)

JWT_CONTENT_TYPE = "application/jwt"


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """Public keys: ES256 verification keys (``use: sig``) and the ECDH-ES encryption key.

    Previous keys stay listed while anything made with them may still be in flight. Caches
    may keep the set for five minutes, which bounds how long after a rotation a verifier can
    lag behind.
    """
    keys = []
    for public in get_key_service().public_keys():
        jwk = dict(public.jwk)
        if public.purpose == KeyPurpose.SIGN:
            jwk.update(use="sig", alg="ES256")
        elif public.purpose == KeyPurpose.JWE:
            jwk.update(use="enc", alg="ECDH-ES")
        else:
            continue
        jwk["kid"] = public.kid
        keys.append(jwk)
    response = JsonResponse({"keys": keys})
    response["Cache-Control"] = "public, max-age=300, stale-while-revalidate=60"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@csrf_exempt  # authenticated by the ES256 signature, not by a cookie
@require_POST
@sensitive_post_parameters()
@sensitive_variables("body", "result")
def cards(request: HttpRequest) -> HttpResponse:
    """``POST /vault/v1/cards`` with a sealed card JWT → 201 with the token's metadata."""
    try:
        try:
            # The caller who sent too many bad JWTs waits, before any parsing.
            cooloff_enforce(ip=client_ip(request))
            if request.content_type != JWT_CONTENT_TYPE:
                raise UnsupportedCardMediaType(
                    "unsupported_media_type", "Send Content-Type: application/jwt."
                )
            declared = request.META.get("CONTENT_LENGTH") or "0"
            if not declared.isdigit() or int(declared) > MAX_TOKEN_BYTES:
                raise CardTokenTooLarge("payload_too_large", "A card token is at most 8 KiB.")
        except DomainError as exc:
            ingest_refusal_record(exc)
            raise
        # Read at most one byte past the cap, whatever the client declared.
        body = request.read(MAX_TOKEN_BYTES + 1)
        result = card_ingest(body)
    except DomainError as exc:
        return error_response(exc, request)
    token = result.token
    response = JsonResponse(
        {
            "token": token.id,
            "brand": token.brand,
            "last4": token.last4,
            "exp_month": token.exp_month,
            "exp_year": token.exp_year,
            "fingerprint": token.fingerprint,
        },
        status=201,
    )
    response["Cache-Control"] = "no-store"
    return response
