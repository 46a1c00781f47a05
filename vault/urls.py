from django.urls import path

from . import api

urlpatterns = [
    path("merchant", api.MerchantMeApi.as_view(), name="merchant-me"),
    path("tokens", api.TokenListApi.as_view(), name="token-list"),
    path("tokens/<str:token_id>", api.TokenDetailApi.as_view(), name="token-detail"),
]
