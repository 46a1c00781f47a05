"""The application's URLs plus the bench baseline: a bare DRF view doing one insert."""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
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


def _derive() -> None:
    """One ECDH derive through the key service, after the ingest's ``epk`` point validation."""
    kid, peer = _ephemeral_point()
    numbers = peer.public_numbers()
    epk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }
    get_key_service().ecdh_derive(kid=kid, peer=epk_public_key(epk))


class BareInsertEcdh(BareInsert):
    """The floor under any card ingest: the bare insert plus the one ECDH derive (through the
    key service, after the same ``epk`` point validation) that every JWE needs, and nothing
    else."""

    def post(self, request: Request) -> Response:
        _derive()
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


@cache
def _signed_card() -> tuple[ec.EllipticCurvePublicKey, bytes, bytes, bytes, bytes]:
    """A signing key's public half, a message and its ES256 signature, and an A256GCM
    ciphertext of a card-sized payload with its nonce: what every sealed card carries."""
    signer = ec.generate_private_key(ec.SECP256R1())
    message = secrets.token_bytes(700)
    signature = signer.sign(message, ec.ECDSA(hashes.SHA256()))
    nonce = secrets.token_bytes(12)
    ciphertext = AESGCM(bytes(32)).encrypt(nonce, secrets.token_bytes(120), message[:64])
    return signer.public_key(), message, signature, nonce, ciphertext


class IngestWorkFloor(BareInsertEcdh):
    """The floor under a card ingest by what the card path itself must do, whatever its code:
    the derive above, one ES256 verify, one A256GCM decrypt, and three rows (the ``jti``, the
    ciphertext, the token) in one commit, inserted the cheapest way we have."""

    def post(self, request: Request) -> Response:
        from django.db import transaction

        from payments_site.kernel.rows import row_insert

        public, message, signature, nonce, ciphertext = _signed_card()
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        _derive()
        AESGCM(bytes(32)).decrypt(nonce, ciphertext, message[:64])
        expires = timezone.now() + timedelta(minutes=5)
        rows = [UsedJti(jti=secrets.token_urlsafe(16), expires_at=expires) for _ in range(3)]
        with transaction.atomic():
            for row in rows:
                row_insert(row)
        return Response({"id": rows[2].jti}, status=201)


class ChargeStatementsFloor(BareInsert):
    """The floor under a charge by its statements, with no Python of its own: the same reads,
    transactions and statements a charge runs (two reads; the intent's four writes; the
    processor's ledger row; the outcome, its event with the listening endpoints read in a
    savepoint, and the stored answer), as plain SQL on one small table."""

    def post(self, request: Request) -> Response:
        from django.db import connection, transaction

        insert = 'INSERT INTO "vault_usedjti" (jti, expires_at, seen_at) VALUES (%s, %s, %s)'
        update = 'UPDATE "vault_usedjti" SET expires_at = %s WHERE jti = %s'
        select = 'SELECT jti, expires_at FROM "vault_usedjti" WHERE jti = %s'
        now = timezone.now()
        ids = [secrets.token_urlsafe(16) for _ in range(5)]
        with connection.cursor() as cursor:
            cursor.execute(select, [ids[0]])  # the API key
            cursor.fetchall()
            cursor.execute(select, [ids[0]])  # the token
            cursor.fetchall()
            with transaction.atomic():  # the intent
                for jti in ids[:3]:  # idempotency record, charge, audit event
                    cursor.execute(insert, [jti, now, now])
                cursor.execute(update, [now, ids[1]])  # the token's use
            with transaction.atomic():  # the processor's record
                cursor.execute(insert, [ids[3], now, now])
            with transaction.atomic():  # the outcome
                cursor.execute(update, [now, ids[1]])
                with transaction.atomic():
                    cursor.execute(insert, [ids[4], now, now])  # the event
                    cursor.execute(select, [ids[4]])  # the listening endpoints
                    cursor.fetchall()
                cursor.execute(update, [now, ids[0]])  # the stored answer
        return Response({"id": ids[1]}, status=201)


urlpatterns = [
    path("bench/charge-floor", ChargeFloor.as_view()),
    path("bench/charge-statements-floor", ChargeStatementsFloor.as_view()),
    path("bench/ingest-work-floor", IngestWorkFloor.as_view()),
    path("bench/bare-insert", BareInsert.as_view()),
    path("bench/bare-insert-ecdh", BareInsertEcdh.as_view()),
    path("", include("payments_site.urls")),
]
