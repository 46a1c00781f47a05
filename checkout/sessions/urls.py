"""``/api/v1/checkout/sessions…`` (the hosted page itself is in ``page_urls.py``)."""

from django.urls import path

from checkout.sessions import api

urlpatterns = [
    path("checkout/sessions", api.CheckoutSessionListCreateApi.as_view(), name="checkout-sessions"),
    path(
        "checkout/sessions/<str:session_id>",
        api.CheckoutSessionDetailApi.as_view(),
        name="checkout-session-detail",
    ),
    path(
        "checkout/sessions/<str:session_id>/expire",
        api.CheckoutSessionExpireApi.as_view(),
        name="checkout-session-expire",
    ),
]
