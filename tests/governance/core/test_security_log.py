"""Refused requests are logged to ``steward.security`` (ASVS 16.3.2), never to the audit chain.

The views here are routed in front of the real URLconf: one DRF view whose permission
check refuses, one page view refused by ``get_object_or_404_for``.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.urls import include, path
from rest_framework import generics, permissions
from rest_framework.response import Response

from governance.audit.models import AuditEvent
from governance.core.permissions import get_object_or_404_for, grant


class DenyAll(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return False


class RefusedApiView(generics.GenericAPIView):
    permission_classes = [DenyAll]

    def post(self, request):
        return Response({"ok": True})


class OpenApiView(generics.GenericAPIView):
    def get(self, request):
        return Response({"ok": True})


def change_user_page(request, pk: int) -> HttpResponse:
    target = get_object_or_404_for(request.user, get_user_model().objects.all(), "change", pk=pk)
    return HttpResponse(target.username)


urlpatterns = [
    path("api/_test/refused/", RefusedApiView.as_view(), name="test-refused"),
    path("api/_test/open/", OpenApiView.as_view(), name="test-open"),
    path("_test/users/<int:pk>/change/", change_user_page, name="test-change-user"),
    path("", include("governance.urls")),
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def denials(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "steward.security"]


def test_a_refused_api_call_is_logged_with_who_what_and_where(client, make_user, caplog):
    user = make_user(username="denied-api-user")
    client.force_login(user)
    events_before = AuditEvent.objects.count()
    with caplog.at_level(logging.INFO, logger="steward.security"):
        response = client.post(
            "/api/_test/refused/?token=query-secret",
            {"password": "body-secret"},
            content_type="application/json",
        )
    assert response.status_code == 403
    [record] = denials(caplog)
    assert record.levelno == logging.WARNING
    assert record.event == "access_denied"
    assert (record.user_id, record.username) == (user.pk, "denied-api-user")
    assert (record.method, record.path, record.view) == (
        "POST",
        "/api/_test/refused/",
        "test-refused",
    )
    assert record.status == 403
    assert record.request_id == response["X-Request-ID"]
    text = record.getMessage() + repr(vars(record))
    assert "query-secret" not in text
    assert "body-secret" not in text
    # A denial changes nothing, so it does not lengthen the tamper-evident chain.
    assert AuditEvent.objects.count() == events_before


def test_a_page_refused_by_the_permission_helper_is_logged(client, make_user, caplog):
    viewer = make_user(username="denied-page-user")
    target = make_user(username="denied-page-target")
    grant(viewer, "view", target)  # visible (not 404) but not changeable: 403
    client.force_login(viewer)
    with caplog.at_level(logging.INFO, logger="steward.security"):
        response = client.get(f"/_test/users/{target.pk}/change/")
    assert response.status_code == 403
    [record] = denials(caplog)
    assert (record.username, record.method, record.view) == (
        "denied-page-user",
        "GET",
        "test-change-user",
    )
    assert record.path == f"/_test/users/{target.pk}/change/"


def test_allowed_and_anonymous_requests_are_not_denials(client, make_user, caplog):
    with caplog.at_level(logging.INFO, logger="steward.security"):
        assert client.get("/api/_test/open/").status_code == 401
        client.force_login(make_user(username="allowed-user"))
        assert client.get("/api/_test/open/").status_code == 200
    assert denials(caplog) == []
