"""Top-level URL configuration."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

# Under /api/ even URL-level errors answer with the API's one error shape.
handler404 = "governance.core.api.handler404"
handler500 = "governance.core.api.handler500"

urlpatterns = [
    path("", include("governance.core.urls")),
    path("accounts/", include("governance.accounts.urls")),
    path("audit/", include("governance.audit.urls")),
    path("inventory/", include("inventory.urls")),
    path("ownership/", include("governance.ownership.urls")),
    path("policy/", include("policy.urls")),
    path("notifications/", include("governance.notifications.urls")),
    path("approvals/", include("governance.approvals.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/", include("governance.api_urls")),
    path("django-admin/", admin.site.urls),
]
