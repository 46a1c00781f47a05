from django.apps import AppConfig
from django.core.signals import setting_changed

from payments_site.kernel.events import subscribe
from payments_site.kernel.idempotency import idempotency_install


class CheckoutConfig(AppConfig):
    name = "checkout"
    verbose_name = "Checkout"

    def ready(self) -> None:
        """Wire the checkout's reactions. Imported here, not at the top: apps.py loads before
        the models registry is ready, and these modules define and use models."""
        from checkout.api import schema  # noqa: F401  (registers the OpenAPI extensions)
        from checkout.billing.events import SubscriptionCreated
        from checkout.billing.services import (
            subscriptions_on_customer_deleted,
            subscriptions_on_merchant_reactivated,
            subscriptions_on_token_revoked,
        )
        from checkout.billing.tasks import bill_first_period
        from checkout.customers.events import CustomerDeleted
        from checkout.customers.services import customer_cards_on_fingerprint_rekeyed
        from checkout.payments.idempotency.api import idempotent_call
        from checkout.payments.processors.base import processors_reset
        from checkout.payments.selectors import charges_settled_hourly
        from checkout.webhooks.delivery import DeliveriesDue
        from checkout.webhooks.events import (
            RECORDED_WITH_CHANGE,
            WEBHOOK_EVENTS,
            events_on_domain_event,
        )
        from checkout.webhooks.tasks import deliveries_hand_off
        from monitoring.security.overview import Source, overview_source_register
        from vault.events import MerchantReactivated, TokenFingerprintRekeyed, TokenRevoked

        # Order matters within one event type: a revoked token's subscriptions go past due
        # before webhooks record the revocation, so endpoints hear of them in that order;
        # a new subscription's ``subscription.created`` is recorded before its first charge.
        subscribe(TokenRevoked, subscriptions_on_token_revoked)
        # A deleted customer's subscriptions are canceled before webhooks record the deletion
        # (``customer.deleted`` is announced before its cards' ``token.revoked``).
        subscribe(CustomerDeleted, subscriptions_on_customer_deleted)
        for event_type in WEBHOOK_EVENTS:
            subscribe(
                event_type,
                events_on_domain_event,
                in_transaction=event_type in RECORDED_WITH_CHANGE,
            )
        subscribe(SubscriptionCreated, bill_first_period)
        subscribe(MerchantReactivated, subscriptions_on_merchant_reactivated)
        # A saved card's copy of its token's fingerprint is re-keyed with the token.
        subscribe(
            TokenFingerprintRekeyed, customer_cards_on_fingerprint_rekeyed, in_transaction=True
        )
        subscribe(DeliveriesDue, deliveries_hand_off)
        idempotency_install(idempotent_call)  # every app's @idempotent runs on our records
        # The admin overview's charges series (monitoring imports no checkout).
        overview_source_register(source=Source.CHARGES, counts=charges_settled_hourly)

        def _reset_processor(*, setting: str, **_: object) -> None:
            # Tests switch processors and faults with override_settings.
            if setting.startswith("PROCESSOR_"):
                processors_reset()

        setting_changed.connect(_reset_processor, weak=False)
