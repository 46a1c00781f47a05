from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "vault"
    verbose_name = "Vault"

    def ready(self) -> None:
        """Hand the admin overview its tokenizations series (monitoring imports no vault).
        Imported here: apps.py loads before the models registry is ready."""
        from monitoring.security.overview import Source, overview_source_register
        from vault.selectors import tokens_created_hourly

        overview_source_register(source=Source.TOKENIZATIONS, counts=tokens_created_hourly)
