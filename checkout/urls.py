from django.urls import path

from checkout.billing import api as subscriptions
from checkout.payments import api as charges

urlpatterns = [
    path("charges", charges.ChargeListCreateApi.as_view(), name="charges"),
    path("charges/<str:charge_id>", charges.ChargeDetailApi.as_view(), name="charge-detail"),
    path(
        "charges/<str:charge_id>/refunds", charges.RefundCreateApi.as_view(), name="charge-refunds"
    ),
    path("subscriptions", subscriptions.SubscriptionListCreateApi.as_view(), name="subscriptions"),
    path(
        "subscriptions/<str:subscription_id>",
        subscriptions.SubscriptionDetailApi.as_view(),
        name="subscription-detail",
    ),
]

# --- checkout sessions (issue 6) ---
from checkout.sessions import api as sessions  # noqa: E402

urlpatterns += [
    path(
        "checkout/sessions", sessions.CheckoutSessionCreateApi.as_view(), name="checkout-sessions"
    ),
    path(
        "checkout/sessions/<str:session_id>",
        sessions.CheckoutSessionDetailApi.as_view(),
        name="checkout-session-detail",
    ),
]

# --- webhooks (issue 8): events and webhook endpoints ---
from checkout.webhooks.urls import urlpatterns as webhook_urlpatterns  # noqa: E402

urlpatterns += webhook_urlpatterns
