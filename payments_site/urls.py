"""Top-level routes. Each app owns its URLs; this module only mounts them (the README's code
map lists which package answers which prefix)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from checkout.api.schema import ApiDocsView
from checkout.payments import views as payment_views
from monitoring.observability import views as monitoring_views
from payments_site import home

urlpatterns = [
    path("", home.home, name="home"),
    path("demo/checkout", home.demo_checkout, name="demo-checkout"),
    path("healthz", monitoring_views.healthz, name="healthz"),
    path("readyz", monitoring_views.readyz, name="readyz"),
    path("metrics", monitoring_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("vault.urls")),
    path("", include("vault.transport.urls")),
    # The checkout's API, then the OpenAPI schema and docs, then the hosted page.
    path("api/v1/", include("checkout.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("checkout/", include("checkout.sessions.page_urls")),
    path(
        "processors/adyen/notifications",
        payment_views.adyen_notifications,
        name="adyen-notifications",
    ),
]

handler400 = "payments_site.problems.handler400"
handler403 = "payments_site.problems.handler403"
handler404 = "payments_site.problems.handler404"
handler500 = "payments_site.problems.handler500"
