from django.urls import path

from . import api

urlpatterns = [
    path("events", api.EventListApi.as_view(), name="events"),
    path("events/<str:event_id>", api.EventDetailApi.as_view(), name="event-detail"),
    path(
        "webhook_endpoints",
        api.WebhookEndpointListCreateApi.as_view(),
        name="webhook-endpoints",
    ),
    path(
        "webhook_endpoints/<str:endpoint_id>",
        api.WebhookEndpointDetailApi.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook_endpoints/<str:endpoint_id>/roll_secret",
        api.WebhookEndpointRollSecretApi.as_view(),
        name="webhook-endpoint-roll-secret",
    ),
]
