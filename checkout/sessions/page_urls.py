"""The hosted checkout page (HTML), mounted at ``/checkout/``."""

from django.urls import path

from checkout.sessions import views

urlpatterns = [
    path("<str:session_id>/", views.checkout_page, name="checkout-page"),
]
