from django.urls import path

from . import api

urlpatterns = [
    path("merchant", api.MerchantMeApi.as_view(), name="merchant-me"),
]
