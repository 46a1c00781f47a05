"""Keys (``vault/keys/``) and the card token the checkout seals for the vault."""

from __future__ import annotations

from pathlib import Path

from .environment import RUN_DIR, env

# Backends: "aws" (KMS) or "local" (keyring file, development only).
KEY_BACKENDS = {
    "local": "vault.keys.local.LocalKeyService",
    "aws": "vault.keys.aws.AwsKmsKeyService",
}
# The variable's choices (variables.py) are these names.
KEYS_BACKEND_NAME = env.str("KEYS_BACKEND", default="local")
KEYS_BACKEND = KEY_BACKENDS[KEYS_BACKEND_NAME]
# local: a 0600 keyring file made on first use (refused by production settings).
LOCAL_KEYRING_PATH = Path(env.str("LOCAL_KEYRING_PATH", default=str(RUN_DIR / "keyring.json")))
LOCAL_KEYS_ALLOWED = True
# aws: key ids, ARNs or aliases (`manage.py kms_bootstrap` creates them and prints these).
KMS_REGION = env.str("AWS_REGION", default=env.str("AWS_DEFAULT_REGION", default="us-east-1"))
AWS_ENDPOINT_URL = env.str("AWS_ENDPOINT_URL", default="")  # moto_server or LocalStack
KMS_SIGN_KEY_ID = env.str("KMS_SIGN_KEY_ID", default="alias/tessera-sign")
KMS_JWE_KEY_ID = env.str("KMS_JWE_KEY_ID", default="alias/tessera-jwe")
KMS_VAULT_KEY_ID = env.str("KMS_VAULT_KEY_ID", default="alias/tessera-vault")
KMS_FINGERPRINT_KEY_ID = env.str("KMS_FINGERPRINT_KEY_ID", default="alias/tessera-fingerprint")
# Keys replaced by a new one but still listed in the JWKS until what they made has expired.
KMS_SIGN_PREVIOUS_KEY_IDS: list[str] = env.list("KMS_SIGN_PREVIOUS_KEY_IDS", default=[])
KMS_JWE_PREVIOUS_KEY_IDS: list[str] = env.list("KMS_JWE_PREVIOUS_KEY_IDS", default=[])
KMS_CONNECT_TIMEOUT = env.float("KMS_CONNECT_TIMEOUT", default=2.0)
KMS_READ_TIMEOUT = env.float("KMS_READ_TIMEOUT", default=5.0)
KMS_MAX_ATTEMPTS = env.int("KMS_MAX_ATTEMPTS", default=3)
KMS_PUBLIC_KEY_CACHE_SECONDS = env.float("KMS_PUBLIC_KEY_CACHE_SECONDS", default=300.0)
# Envelope encryption: one data key seals cards for at most this long / this many cards.
DATA_KEY_MAX_AGE_SECONDS = env.float("DATA_KEY_MAX_AGE_SECONDS", default=300.0)
DATA_KEY_MAX_USES = env.int("DATA_KEY_MAX_USES", default=10_000)

# --- Card transport: the checkout seals card JWTs, the vault ingests them ----------------------
# `iss` names this checkout, `aud` the vault (its DNS name in production); both are compared
# exactly. Lifetime is at most 300 s and leeway 30 s: larger values are refused at start (and
# the code caps them again).
CARD_JWT_ISSUER = env.str("CARD_JWT_ISSUER", default="tessera-checkout")
CARD_JWT_AUDIENCE = env.str("CARD_JWT_AUDIENCE", default="vault.tessera.localhost")
CARD_JWT_LIFETIME_SECONDS = env.int("CARD_JWT_LIFETIME_SECONDS", default=120)
CARD_JWT_LEEWAY_SECONDS = env.int("CARD_JWT_LEEWAY_SECONDS", default=30)
# The ingest keeps the active merchants it read this long (0: read every card).
INGEST_MERCHANT_CACHE_SECONDS = env.float("INGEST_MERCHANT_CACHE_SECONDS", default=5.0)

# --- Key modes ---------------------------------------------------------------------------------
# strict: every private-key operation of a checkout runs in KMS (Sign + DeriveSharedSecret per
# card). working: a card JWE key pair and a card signing key per period, KMS-rooted (wrapped
# under the vault key, the signing key certified by a KMS Sign) and used from memory.
KEYS_MODE = env.str("KEYS_MODE", default="strict")
KEYS_WORKING_SERVICE = "vault.keys.working.WorkingKeyService"
KEYS_WORKING_PERIOD_SECONDS = env.int("KEYS_WORKING_PERIOD_SECONDS", default=3600)
# Named in every working key's certificate and wrapping context: a key of another environment
# sharing the database or the KMS keys is refused.
KEYS_ENVIRONMENT = env.str("KEYS_ENVIRONMENT", default="default")
