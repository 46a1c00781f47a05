from .merchants import ApiKey, Merchant, ModeOwned, OwnedQuerySet
from .replay import UsedJti
from .tokens import DataKey, EncryptedCard, RewrapRun, Token, VaultKeyVersion
from .working_keys import WorkingKey

__all__ = [
    "ApiKey",
    "DataKey",
    "EncryptedCard",
    "Merchant",
    "ModeOwned",
    "OwnedQuerySet",
    "RewrapRun",
    "Token",
    "UsedJti",
    "VaultKeyVersion",
    "WorkingKey",
]
