"""The application's URLs plus the bench baseline: a bare DRF view doing one insert."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.urls import include, path
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from vault.models import UsedJti


class BareInsert(APIView):
    """What any endpoint costs at least here: DRF, one INSERT, a small JSON answer."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        row = UsedJti.objects.create(
            jti=secrets.token_urlsafe(16), expires_at=timezone.now() + timedelta(minutes=5)
        )
        return Response({"id": row.jti}, status=201)


urlpatterns = [
    path("bench/bare-insert", BareInsert.as_view()),
    path("", include("payments_site.urls")),
]
