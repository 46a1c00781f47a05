from .merchants import ApiKey, Merchant

__all__ = ["ApiKey", "Merchant"]
