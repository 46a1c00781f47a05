from django.urls import path

from . import views

urlpatterns = [
    path("vault/v1/cards", views.cards, name="vault-cards"),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
]
