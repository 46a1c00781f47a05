"""``/api/v1/forward…``: the forwarding relay."""

from django.urls import path

from checkout.relay import api

urlpatterns = [
    path("forward", api.ForwardCreateApi.as_view(), name="forward"),
    path("forwards/<str:forward_id>", api.ForwardDetailApi.as_view(), name="forward-detail"),
]
