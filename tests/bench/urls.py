"""The application's URLs plus the bench baseline: a bare DRF view doing one insert."""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import cache

from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import include, path
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments_site.kernel.encoding import b64url_encode
from vault.keys import KeyPurpose, get_key_service
from vault.models import UsedJti
from vault.transport.jose import epk_public_key


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
def _ephemeral_point() -> tuple[str, ec.EllipticCurvePublicKey]:
    """The current vault encryption key's kid and a browser's ephemeral P-256 public key."""
    public = next(
        k for k in get_key_service().public_keys() if k.purpose == KeyPurpose.JWE and k.current
    )
    return public.kid, ec.generate_private_key(ec.SECP256R1()).public_key()


class BareInsertEcdh(BareInsert):
    """The floor under any card ingest: the bare insert plus the one ECDH derive (through the
    key service, after the same ``epk`` point validation) that every JWE needs, and nothing
    else."""

    def post(self, request: Request) -> Response:
        kid, peer = _ephemeral_point()
        numbers = peer.public_numbers()
        epk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        }
        get_key_service().ecdh_derive(kid=kid, peer=epk_public_key(epk))
        return super().post(request)


class ChargeFloor(BareInsert):
    """The floor under a charge, whatever its code: the bare insert's DRF, the API key looked
    up, then the three commits a charge cannot do without — its intent, the processor's own
    record (the sandbox keeps its books in our database), its outcome."""

    def post(self, request: Request) -> Response:
        from django.db import transaction

        from vault.merchants import api_key_lookup

        header = request.META.get("HTTP_AUTHORIZATION", "")
        if api_key_lookup(secret=header.partition(" ")[2]) is None:
            return Response(status=401)
        rows = []
        for _ in range(2):
            with transaction.atomic():
                rows.append(
                    UsedJti.objects.create(
                        jti=secrets.token_urlsafe(16),
                        expires_at=timezone.now() + timedelta(minutes=5),
                    )
                )
        with transaction.atomic():
            UsedJti.objects.filter(pk=rows[0].pk).update(expires_at=timezone.now())
        return Response({"id": rows[0].jti}, status=201)


urlpatterns = [
    path("bench/charge-floor", ChargeFloor.as_view()),
    path("bench/bare-insert", BareInsert.as_view()),
    path("bench/bare-insert-ecdh", BareInsertEcdh.as_view()),
    path("", include("payments_site.urls")),
]
