"""The JOSE primitives against the RFC's own numbers: ECDH-ES key agreement and the Concat KDF
of RFC 7518 Appendix C, and the ``epk`` check accepting exactly what it should."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from payments_site.kernel.encoding import b64url_decode, b64url_encode
from vault.transport.jose import concat_kdf, epk_public_key

# RFC 7518 Appendix C: Alice (the sender, ephemeral key) and Bob (the recipient).
ALICE_EPK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
    "y": "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps",
}
ALICE_D = "0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo"
BOB = {
    "kty": "EC",
    "crv": "P-256",
    "x": "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
    "y": "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
}
BOB_D = "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"
Z = bytes(
    [158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156,
     251, 49, 110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196]
)  # fmt: skip
DERIVED_A128GCM = "VqqN6vgjbSBcIijNcacQGg"


def _int(value: str) -> int:
    return int.from_bytes(b64url_decode(value), "big")


def test_rfc7518_appendix_c_shared_secret_both_ways() -> None:
    alice = ec.derive_private_key(_int(ALICE_D), ec.SECP256R1())
    bob = ec.derive_private_key(_int(BOB_D), ec.SECP256R1())

    # the epk as the header carries it passes validation and is Alice's public key
    assert epk_public_key(dict(ALICE_EPK)).public_numbers() == alice.public_key().public_numbers()
    assert alice.exchange(ec.ECDH(), epk_public_key(dict(BOB))) == Z
    assert bob.exchange(ec.ECDH(), epk_public_key(dict(ALICE_EPK))) == Z


def test_rfc7518_appendix_c_concat_kdf() -> None:
    # header of the example: {"alg":"ECDH-ES","enc":"A128GCM","apu":"QWxpY2U","apv":"Qm9i",…}
    apu, apv = b64url_decode("QWxpY2U"), b64url_decode("Qm9i")
    assert (apu, apv) == (b"Alice", b"Bob")

    key = concat_kdf(Z, enc="A128GCM", apu=apu, apv=apv, bits=128)

    assert b64url_encode(key) == DERIVED_A128GCM


def test_concat_kdf_binds_every_input() -> None:
    base = concat_kdf(Z, enc="A256GCM", apu=b"cs_1", apv=b"n1", bits=256)

    assert len(base) == 32
    assert base != concat_kdf(Z, enc="A256GCM", apu=b"cs_2", apv=b"n1", bits=256)
    assert base != concat_kdf(Z, enc="A256GCM", apu=b"cs_1", apv=b"n2", bits=256)
    assert base != concat_kdf(Z, enc="A128GCM", apu=b"cs_1", apv=b"n1", bits=256)
    # length prefixes keep the split between apu and apv unambiguous
    assert base != concat_kdf(Z, enc="A256GCM", apu=b"cs_", apv=b"1n1", bits=256)
