"""Top-level routes. Each app owns its URLs; this module only mounts them."""

from django.contrib import admin
from django.urls import include, path

from monitoring import views as monitoring_views

urlpatterns = [
    path("healthz", monitoring_views.healthz, name="healthz"),
    path("readyz", monitoring_views.readyz, name="readyz"),
    path("metrics", monitoring_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("vault.urls")),
    path("", include("vault.transport.urls")),
]

handler400 = "payments_site.problems.handler400"
handler403 = "payments_site.problems.handler403"
handler404 = "payments_site.problems.handler404"
handler500 = "payments_site.problems.handler500"
