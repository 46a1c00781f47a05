"""``/api/v1/customers…``."""

from django.urls import path

from checkout.customers import api

urlpatterns = [
    path("customers", api.CustomerListCreateApi.as_view(), name="customers"),
    path("customers/<str:customer_id>", api.CustomerDetailApi.as_view(), name="customer-detail"),
    path(
        "customers/<str:customer_id>/cards",
        api.CustomerCardListAttachApi.as_view(),
        name="customer-cards",
    ),
    path(
        "customers/<str:customer_id>/cards/<str:token_id>",
        api.CustomerCardDetailApi.as_view(),
        name="customer-card-detail",
    ),
]
