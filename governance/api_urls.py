"""REST API routes, one include per app."""

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("approvals/", include("governance.approvals.api_urls")),
    path("audit/", include("governance.audit.api_urls")),
    path("inventory/", include("inventory.api.urls")),
    path("ownership/", include("governance.ownership.api_urls")),
    path("policy/", include("policy.api.urls")),
]
