"""Vault API views (merchant-facing, API-key authenticated)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments_site.kernel.idempotency import idempotent
from payments_site.kernel.pagination import PageParamsSerializer
from payments_site.parameters import input_validate

from .authentication import request_api_key, request_merchant
from .models import ApiKey, Merchant, Token
from .models.tokens import BRAND_CHOICES
from .selectors import token_get, token_list
from .serializers import TokenOutputSerializer
from .services import REASON_MAX_LENGTH, token_revoke


class MerchantMeApi(APIView):
    """The merchant the presented key belongs to; lets an integration check its key works."""

    class OutputSerializer(serializers.Serializer[Merchant]):
        id = serializers.CharField()
        name = serializers.CharField()
        mode = serializers.SerializerMethodField()
        livemode = serializers.BooleanField(help_text="The key's mode: true for a live key.")

        def get_mode(self, merchant: Merchant) -> str:
            api_key: ApiKey = self.context["api_key"]
            return api_key.mode

    def get(self, request: Request) -> Response:
        serializer = self.OutputSerializer(
            request_merchant(request), context={"api_key": request_api_key(request)}
        )
        return Response(serializer.data)


# --- tokens (ARCHITECTURE.md §4) ------------------------------------------------------------


class TokenListApi(APIView):
    """``GET /api/v1/tokens``: the merchant's tokens, newest first, cursor-paginated."""

    class InputSerializer(PageParamsSerializer):
        status = serializers.ChoiceField(choices=Token.Status.choices, required=False)
        brand = serializers.ChoiceField(choices=BRAND_CHOICES, required=False)
        fingerprint = serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}$", required=False)

    def get(self, request: Request) -> Response:
        params = input_validate(self.InputSerializer, request.query_params)
        page = token_list(merchant=request_merchant(request), **params)
        return Response(
            {
                "object": "list",
                "data": [TokenOutputSerializer(token).data for token in page.items],
                "has_more": page.has_more,
            }
        )


def _revoked_effect(request: Request, token_id: str) -> Response:
    token = token_get(merchant=request_merchant(request), token_id=token_id)
    return Response(TokenOutputSerializer(token).data)


class TokenDetailApi(APIView):
    """``GET`` a token's masked metadata; ``DELETE`` revokes it (crypto-shredding the card).

    A token of another merchant answers 404, exactly like one that does not exist.
    """

    class DeleteInputSerializer(serializers.Serializer[Any]):
        reason = serializers.CharField(
            required=False, max_length=REASON_MAX_LENGTH, default="requested_by_merchant"
        )

    def get(self, request: Request, token_id: str) -> Response:
        token = token_get(merchant=request_merchant(request), token_id=token_id)
        return Response(TokenOutputSerializer(token).data)

    @idempotent(effect=_revoked_effect)
    def delete(self, request: Request, token_id: str) -> Response:
        params = input_validate(self.DeleteInputSerializer, request.query_params)
        token = token_get(merchant=request_merchant(request), token_id=token_id)
        revoked = token_revoke(
            token=token,
            actor=f"api_key:{request_api_key(request).id}",
            reason=params["reason"],
        )
        return Response(TokenOutputSerializer(revoked).data)
