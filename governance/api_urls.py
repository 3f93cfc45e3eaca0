"""REST API routes, one include per app."""

from django.urls import include, path

urlpatterns: list = [
    path("audit/", include("governance.audit.api_urls")),
]
