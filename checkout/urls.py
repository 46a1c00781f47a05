from django.urls import path

from checkout.api import charges, subscriptions

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
