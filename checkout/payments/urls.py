"""``/api/v1/charges…`` and ``/api/v1/refunds…``: charges and their refunds."""

from django.urls import path

from checkout.payments import api

urlpatterns = [
    path("charges", api.ChargeListCreateApi.as_view(), name="charges"),
    path("charges/<str:charge_id>", api.ChargeDetailApi.as_view(), name="charge-detail"),
    path("charges/<str:charge_id>/refunds", api.RefundCreateApi.as_view(), name="charge-refunds"),
    path("refunds", api.RefundListApi.as_view(), name="refunds"),
    path("refunds/<str:refund_id>", api.RefundDetailApi.as_view(), name="refund-detail"),
    path("charges/<str:charge_id>/capture", api.ChargeCaptureApi.as_view(), name="charge-capture"),
    path("charges/<str:charge_id>/release", api.ChargeReleaseApi.as_view(), name="charge-release"),
]
