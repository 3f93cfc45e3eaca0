"""The API's conventions: one error shape for every failure, a valid OpenAPI 3 schema, local docs.

The error tests run against small views declared here (routed in front of the real
URLconf) because they exercise the shared exception handler, not any one endpoint.
"""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.cache.backends.locmem import LocMemCache
from django.core.management import call_command
from django.db import DataError
from django.shortcuts import get_object_or_404
from django.urls import include, path
from rest_framework import generics, permissions, serializers, throttling
from rest_framework.response import Response

from governance.accounts.models import User
from governance.core.api import CursorPagination


class ThingSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=5)
    size = serializers.IntegerField(min_value=1)

    def validate(self, attrs: dict) -> dict:
        if attrs["name"] == "bad":
            raise serializers.ValidationError("This combination is not allowed.")
        return attrs


class ThingView(generics.GenericAPIView):
    serializer_class = ThingSerializer

    def get(self, request):
        return Response({"ok": True})

    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.data, status=201)


class DenyAll(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return False


class ForbiddenView(ThingView):
    permission_classes = [DenyAll]


class MissingView(ThingView):
    def get(self, request, pk: int):
        return Response({"username": get_object_or_404(User, pk=pk).username})


class BrokenView(ThingView):
    def get(self, request):
        raise RuntimeError("a bug")


class OncePerDay(throttling.UserRateThrottle):
    # A private cache and key: no counter shared with other tests or left in Redis.
    cache = LocMemCache(f"test-throttle-{uuid.uuid4().hex}", {})
    rate = "1/day"


class ThrottledView(ThingView):
    throttle_classes = [OncePerDay]


class UserListSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]


class UserListView(generics.ListAPIView):
    queryset = User.objects.all()
    serializer_class = UserListSerializer


urlpatterns = [
    path("api/_test/users/", UserListView.as_view()),
    path("api/_test/things/", ThingView.as_view()),
    path("api/_test/forbidden/", ForbiddenView.as_view()),
    path("api/_test/missing/<int:pk>/", MissingView.as_view()),
    path("api/_test/broken/", BrokenView.as_view()),
    path("api/_test/throttled/", ThrottledView.as_view()),
    path("", include("governance.urls")),
]
handler404 = "governance.core.api.handler404"
handler500 = "governance.core.api.handler500"

with_test_views = pytest.mark.urls(__name__)


@pytest.fixture
def user_client(client, django_user_model):
    user = django_user_model.objects.create_user(username="api-user", password="x-long-pass-1")
    client.force_login(user)
    return client


def assert_error(response, *, status: int, code: str) -> dict:
    """The response carries the one error shape with ``code``; return its ``error`` object."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    return error


@with_test_views
@pytest.mark.django_db
class TestErrorShape:
    def test_anonymous_request_is_401_with_a_challenge(self, client):
        response = client.get("/api/_test/things/")
        error = assert_error(response, status=401, code="not_authenticated")
        assert "fields" not in error
        assert response["WWW-Authenticate"].startswith("Session")

    def test_permission_denied_is_403(self, user_client):
        assert_error(user_client.get("/api/_test/forbidden/"), status=403, code="permission_denied")

    def test_missing_object_is_404(self, user_client):
        assert_error(user_client.get("/api/_test/missing/999999/"), status=404, code="not_found")

    def test_unknown_api_url_is_404_in_the_same_shape(self, user_client):
        assert_error(user_client.get("/api/no-such-thing/"), status=404, code="not_found")

    def test_unknown_page_url_stays_html(self, user_client):
        response = user_client.get("/no-such-page/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")

    def test_validation_errors_name_each_field(self, user_client):
        response = user_client.post(
            "/api/_test/things/", {"name": "too-long", "size": 0}, content_type="application/json"
        )
        error = assert_error(response, status=400, code="validation_error")
        assert error["message"] == "Invalid input."
        assert set(error["fields"]) == {"name", "size"}
        assert all(isinstance(m, str) for messages in error["fields"].values() for m in messages)

    def test_non_field_validation_error_becomes_the_message(self, user_client):
        response = user_client.post(
            "/api/_test/things/", {"name": "bad", "size": 1}, content_type="application/json"
        )
        error = assert_error(response, status=400, code="validation_error")
        assert error["message"] == "This combination is not allowed."
        assert "fields" not in error

    def test_malformed_json_is_a_parse_error(self, user_client):
        response = user_client.post(
            "/api/_test/things/", "{not json", content_type="application/json"
        )
        assert_error(response, status=400, code="parse_error")

    def test_wrong_method_is_405(self, user_client):
        assert_error(
            user_client.delete("/api/_test/things/"), status=405, code="method_not_allowed"
        )

    def test_too_many_requests_is_429_with_retry_after(self, user_client):
        assert user_client.get("/api/_test/throttled/").status_code == 200
        response = user_client.get("/api/_test/throttled/")
        assert_error(response, status=429, code="throttled")
        assert int(response["Retry-After"]) > 0

    def test_unhandled_exception_is_500_without_internals(self, user_client, caplog):
        response = user_client.get("/api/_test/broken/")
        error = assert_error(response, status=500, code="server_error")
        assert "a bug" not in response.content.decode()
        assert error["message"] == "Internal server error."
        assert "a bug" in caplog.text  # the traceback goes to the log instead

    def test_successful_request_is_untouched(self, user_client):
        response = user_client.post(
            "/api/_test/things/", {"name": "ok", "size": 2}, content_type="application/json"
        )
        assert response.status_code == 201
        assert response.json() == {"name": "ok", "size": 2}


def _spectacular(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "schema.yaml"
    # --validate checks against the OpenAPI 3 meta-schema; --fail-on-warn turns every
    # endpoint the generator cannot describe into a failure here instead of in clients.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out), *args)
    return yaml.safe_load(out.read_text())


@pytest.mark.django_db
def test_project_schema_is_valid_openapi_3(tmp_path):
    schema = _spectacular(tmp_path)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Steward API"


@pytest.mark.django_db
def test_every_operation_documents_the_error_shape(tmp_path):
    schema = _spectacular(tmp_path, "--urlconf", __name__)
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    post = schema["paths"]["/api/_test/things/"]["post"]["responses"]
    assert {"400", "401", "403", "429"} <= set(post)
    assert post["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert "404" in schema["paths"]["/api/_test/missing/{id}/"]["get"]["responses"]


@pytest.mark.django_db
def test_schema_endpoint_serves_openapi_3(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


class _AssetLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_use_only_local_assets(client, settings, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "external asset"
    # Script bodies may build URLs too (the viewer loads its bundles and the schema).
    assert not re.search(r"""["'](https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", html, re.I)
    parser = _AssetLinks()
    parser.feed(html)
    static = [url for url in parser.urls if url.startswith(settings.STATIC_URL)]
    assert static, "the viewer's assets come from our static files"
    for url in static:
        relative = url.removeprefix(settings.STATIC_URL).split("?")[0]
        assert finders.find(relative), f"{url} is not a local static file"


@with_test_views
@pytest.mark.django_db
def test_lists_page_with_a_cursor_without_repeats_or_gaps(user_client, django_user_model):
    for n in range(4):
        django_user_model.objects.create_user(username=f"paged{n}", password="x-long-pass-1")
    expected = list(django_user_model.objects.order_by("-pk").values_list("username", flat=True))

    seen: list[str] = []
    url = "/api/_test/users/?page_size=2"
    while url:
        body = user_client.get(url).json()
        assert set(body) == {"next", "previous", "results"}
        assert len(body["results"]) <= 2
        seen += [row["username"] for row in body["results"]]
        # A row created between pages must not shift the pages already read.
        django_user_model.objects.create_user(username=f"late{len(seen)}", password="x-long-pass-1")
        url = body["next"]
    assert seen == expected


@with_test_views
@pytest.mark.django_db
def test_page_size_is_capped(user_client, django_user_model):
    django_user_model.objects.bulk_create(
        django_user_model(username=f"bulk{n}") for n in range(CursorPagination.max_page_size + 1)
    )
    body = user_client.get("/api/_test/users/?page_size=100000").json()
    assert len(body["results"]) == CursorPagination.max_page_size
    assert body["next"]


class DataErrorView(ThingView):
    def get(self, request):
        raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")


urlpatterns.insert(0, path("api/_test/data-error/", DataErrorView.as_view()))


@with_test_views
@pytest.mark.django_db
def test_a_value_the_database_refuses_is_bad_input_not_a_crash(user_client):
    # Found by schema fuzzing: a NUL byte or a number past a column's range was a 500.
    error = assert_error(
        user_client.get("/api/_test/data-error/"), status=400, code="validation_error"
    )
    assert "NUL" not in error["message"]


def _schema_at(schema: dict, *keys: str) -> dict:
    node = schema
    for key in keys:
        node = node[key]
        while "$ref" in node:
            node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


@pytest.mark.django_db
def test_schema_declares_what_the_fuzzer_saw_answered(tmp_path):
    """Each line was a mismatch between an answer and the schema, found by fuzzing."""
    schema = _spectacular(tmp_path)
    paths = schema["paths"]
    # A forged cursor answers 404; a refused filter 400.
    assert {"400", "404"} <= set(paths["/api/audit/events/"]["get"]["responses"])
    # Submitting against an invisible VM or cluster answers 404.
    assert "404" in paths["/api/approvals/requests/"]["post"]["responses"]
    inbox = paths["/api/approvals/requests/inbox/"]["get"]["responses"]["200"]
    assert inbox["content"]["application/json"]["schema"]["type"] == "array"
    versions = paths["/api/policy/policies/{id}/versions/"]["get"]["responses"]["200"]
    assert versions["content"]["application/json"]["schema"]["type"] == "array"
    components = schema["components"]["schemas"]
    for component, field in [
        ("Copy", "storage"),
        ("Disk", "storage_class"),
        ("Ownership", "owner"),
        ("Ownership", "custodian"),
        ("Ownership", "team"),
        ("Ownership", "set_by"),
    ]:
        assert components[component]["properties"][field].get("nullable"), (component, field)
