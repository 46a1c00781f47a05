"""The checkout's API under ``/api/v1/``: each domain's own URLs, in the order of its routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("checkout.payments.urls")),
    path("", include("checkout.customers.urls")),
    path("", include("checkout.billing.urls")),
    path("", include("checkout.sessions.urls")),
    path("", include("checkout.webhooks.urls")),
    path("", include("checkout.relay.urls")),
]
