from .merchants import ApiKey, Merchant
from .replay import UsedJti
from .tokens import DataKey, EncryptedCard, RewrapRun, Token, VaultKeyVersion

__all__ = [
    "ApiKey",
    "DataKey",
    "EncryptedCard",
    "Merchant",
    "RewrapRun",
    "Token",
    "UsedJti",
    "VaultKeyVersion",
]
