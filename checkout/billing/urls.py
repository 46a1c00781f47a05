"""``/api/v1/subscriptions…``."""

from django.urls import path

from checkout.billing import api

urlpatterns = [
    path("subscriptions", api.SubscriptionListCreateApi.as_view(), name="subscriptions"),
    path(
        "subscriptions/<str:subscription_id>",
        api.SubscriptionDetailApi.as_view(),
        name="subscription-detail",
    ),
]
