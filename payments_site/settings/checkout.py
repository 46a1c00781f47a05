"""The checkout: processors, charges and refunds, idempotency, billing, hosted sessions."""

from __future__ import annotations

from .environment import BASE_DIR, env

# Payment processor adapters (checkout/payments/processors/), one per mode, each resolved once
# per process. Test mode's is the sandbox.
PROCESSOR_BACKEND: str = env.str(
    "PROCESSOR_BACKEND", default="checkout.payments.processors.sandbox.SandboxProcessor"
)
PROCESSOR_OPTIONS: dict[str, object] = {
    # Simulated network latency of the sandbox, milliseconds.
    "latency_ms": env.int("PROCESSOR_SANDBOX_LATENCY_MS", default=0),
    # Injected fault: "", "timeout_before", "timeout_after" (charged, answer lost),
    # "connection_error".
    "fault": env.str("PROCESSOR_SANDBOX_FAULT", default=""),
    # The operations it hits (comma-separated: charge, authorize, capture, void, refund); all
    # when empty.
    "fault_on": env.str("PROCESSOR_SANDBOX_FAULT_ON", default=""),
}
# Live mode's processor (dotted path to a Processor; never the sandbox). Empty: live mode is
# unavailable, and live charges, refunds, subscriptions and paid checkouts are refused with
# 403 live_mode_unavailable before anything is stored.
PROCESSOR_LIVE: str = env.str("PROCESSOR_LIVE", default="")
# Its keyword arguments (a live adapter reads its credentials from its own variables).
PROCESSOR_LIVE_OPTIONS: dict[str, object] = {}
# Adyen (checkout/payments/processors/adyen.py): PROCESSOR_BACKEND=…adyen.AdyenProcessor uses
# ADYEN_TEST (Adyen's test endpoint), PROCESSOR_LIVE=…adyen.AdyenLiveProcessor uses ADYEN_LIVE
# (your live prefix URL; the test endpoint is refused there).
ADYEN_TEST: dict[str, object] = {
    "endpoint": env.str("ADYEN_TEST_ENDPOINT", default="https://checkout-test.adyen.com/v71"),
    "api_key": env.str("ADYEN_TEST_API_KEY", default=""),
    "merchant_account": env.str("ADYEN_TEST_MERCHANT_ACCOUNT", default=""),
}
ADYEN_LIVE: dict[str, object] = {
    "endpoint": env.str("ADYEN_LIVE_ENDPOINT", default=""),
    "api_key": env.str("ADYEN_LIVE_API_KEY", default=""),
    "merchant_account": env.str("ADYEN_LIVE_MERCHANT_ACCOUNT", default=""),
}
# Hex HMAC key of the standard notification webhook (Customer Area); empty: all refused.
ADYEN_HMAC_KEY: str = env.str("ADYEN_HMAC_KEY", default="")
# Keys that still verify while a new one is rolled out (Adyen signs with one key at a time,
# and notifications signed before the switch may be retried for days after it).
ADYEN_HMAC_PREVIOUS_KEYS: list[str] = env.list("ADYEN_HMAC_PREVIOUS_KEYS", default=[])
# One request to Adyen, end to end; below CHARGE_RECONCILE_AFTER_SECONDS.
ADYEN_TIMEOUT_SECONDS: float = env.float("ADYEN_TIMEOUT_SECONDS", default=30.0)
# PEM bundle replacing the system trust store for Adyen's certificate (tests' own fake).
ADYEN_CA_BUNDLE: str = env.str("ADYEN_CA_BUNDLE", default="")
# Public test cards for `manage.py sandbox_token` (numbers never leave tests/).
SANDBOX_TEST_CARDS = BASE_DIR / "tests" / "data" / "cards.json"
# Pending charges older than this are settled by the reconcile job (must exceed the processor
# request timeout, so no original request can still be in flight).
CHARGE_RECONCILE_AFTER_SECONDS: int = env.int("CHARGE_RECONCILE_AFTER_SECONDS", default=300)
# A capture, release or refund the processor accepted for a later answer (Adyen's "received")
# with no notification after this long raises an operator alert (reconcile job): Adyen retries
# a notification for days, so one this late means our endpoint refused it (key, URL, outage).
PROCESSOR_ANSWER_OVERDUE_SECONDS: int = env.int("PROCESSOR_ANSWER_OVERDUE_SECONDS", default=21600)
CHARGE_MAX_AMOUNT: int = 99_999_999
# An authorization (`capture: false`) not captured within this many hours is released (7 days,
# what card networks commonly honour for a hold).
AUTHORIZATION_TTL_HOURS: int = env.int("AUTHORIZATION_TTL_HOURS", default=168)
# Idempotency keys are kept at least this long, then purged by `purge_idempotency_keys`.
IDEMPOTENCY_KEY_TTL_HOURS: int = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# A request holding a key longer than this is presumed dead (> gunicorn's timeout).
IDEMPOTENCY_LOCK_SECONDS: int = env.int("IDEMPOTENCY_LOCK_SECONDS", default=90)
# Failed renewal retries, in days after the period's first failed attempt; then canceled.
SUBSCRIPTION_DUNNING_DAYS: list[int] = [int(d) for d in env.list("DUNNING_DAYS", default=[1, 3, 5])]
# Injectable clock (dotted path to a zero-argument callable returning an aware datetime).
CHECKOUT_CLOCK: str = env.str("CHECKOUT_CLOCK", default="django.utils.timezone.now")

# Hosted checkout sessions and their page.
# A session's page lives this long unless the merchant asks for 5 min … 24 h (`expires_in`).
CHECKOUT_SESSION_TTL_SECONDS: int = env.int("CHECKOUT_SESSION_TTL_SECONDS", default=30 * 60)
# success_url / cancel_url must be https; development and tests also allow http (localhost).
CHECKOUT_REDIRECT_HTTP_ALLOWED = False
# An attempt that holds a session longer than this is presumed dead (> gunicorn's timeout) and
# the session reopens for the shopper.
CHECKOUT_ATTEMPT_LOCK_SECONDS: int = env.int("CHECKOUT_ATTEMPT_LOCK_SECONDS", default=90)
