from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    name = "checkout"
    verbose_name = "Checkout"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from checkout.api import schema  # noqa: F401  (registers the OpenAPI auth extension)
        from checkout.payments.processors.base import get_processor

        def _reset_processor(*, setting: str, **_: object) -> None:
            # Tests switch processors and faults with override_settings.
            if setting.startswith("PROCESSOR_"):
                get_processor.cache_clear()

        setting_changed.connect(_reset_processor, weak=False)
