"""The real URLs plus ``POST /bench/bare-insert``: the same authentication, throttling, JSON
parsing and one database insert, none of the charge logic. Charges/s are reported against it."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.models import AuditEvent
from payments_site.urls import urlpatterns as real_urlpatterns


class BareInsertApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        token = serializers.CharField(max_length=40)
        amount = serializers.IntegerField(min_value=1)
        currency = serializers.CharField(max_length=3)

    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = AuditEvent.objects.create(
            occurred_at=timezone.now(), actor="bench", action="bench.insert", outcome="success"
        )
        return Response({"id": row.pk, **data.validated_data}, status=201)


urlpatterns = [
    *real_urlpatterns,
    path("bench/bare-insert", BareInsertApi.as_view()),
]
