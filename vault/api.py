"""Vault API views (merchant-facing, API-key authenticated)."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .authentication import request_api_key, request_merchant
from .models import ApiKey, Merchant


class MerchantMeApi(APIView):
    """The merchant the presented key belongs to; lets an integration check its key works."""

    class OutputSerializer(serializers.Serializer[Merchant]):
        id = serializers.CharField()
        name = serializers.CharField()
        mode = serializers.SerializerMethodField()

        def get_mode(self, merchant: Merchant) -> str:
            api_key: ApiKey = self.context["api_key"]
            return api_key.mode

    def get(self, request: Request) -> Response:
        serializer = self.OutputSerializer(
            request_merchant(request), context={"api_key": request_api_key(request)}
        )
        return Response(serializer.data)
