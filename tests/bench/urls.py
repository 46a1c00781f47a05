"""The application's URLs plus the bench baseline: a bare DRF view doing one insert."""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.urls import include, path
from django.utils import timezone
from jwt.algorithms import RSAAlgorithm
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from vault.keys import KeyPurpose, get_key_service
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


@cache
def _wrapped_cek() -> tuple[str, bytes]:
    """A 32-byte CEK wrapped to the current vault encryption key, as a JWE carries one."""
    public = next(
        k for k in get_key_service().public_keys() if k.purpose == KeyPurpose.JWE and k.current
    )
    key = RSAAlgorithm.from_jwk(dict(public.jwk))
    assert isinstance(key, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return public.kid, key.encrypt(secrets.token_bytes(32), oaep)


class BareInsertRsa(BareInsert):
    """The floor under any card ingest: the bare insert plus the one RSA private-key operation
    (through the key service) that every JWE needs, and nothing else."""

    def post(self, request: Request) -> Response:
        kid, wrapped = _wrapped_cek()
        get_key_service().rsa_oaep_decrypt(kid=kid, ciphertext=wrapped)
        return super().post(request)


urlpatterns = [
    path("bench/bare-insert", BareInsert.as_view()),
    path("bench/bare-insert-rsa", BareInsertRsa.as_view()),
    path("", include("payments_site.urls")),
]
