from .merchants import ApiKey, Merchant
from .tokens import DataKey, EncryptedCard, RewrapRun, Token, VaultKeyVersion

__all__ = [
    "ApiKey",
    "DataKey",
    "EncryptedCard",
    "Merchant",
    "RewrapRun",
    "Token",
    "VaultKeyVersion",
]
