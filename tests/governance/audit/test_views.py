"""The audit page and API: admins and auditors only, with filters, sorting and paging."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from governance.accounts import services
from governance.accounts.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("audit:events")
API = "/api/audit/events/"


def signed_in(*roles: Role) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=list(roles)))
    return client


@pytest.fixture
def trail(db):
    admin = UserFactory(username="ada", roles=[Role.ADMIN])
    services.team_create(actor=admin, name="Platform")
    services.team_create(actor=admin, name="Research")
    services.user_create(actor=None, username="newbie", password="a-long-test-password")
    return admin


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR, Role.SECURITY_OFFICER])
def test_page_allowed_for_admins_auditors_and_security_officers(trail, role):
    response = signed_in(role).get(PAGE)
    assert response.status_code == 200
    assert b"team.create" in response.content


@pytest.mark.parametrize("role", [Role.END_USER, Role.MANAGER])
def test_page_forbidden_for_other_roles(trail, role):
    assert signed_in(role).get(PAGE).status_code == 403


def test_page_sends_anonymous_visitors_to_sign_in(client):
    assert client.get(PAGE).status_code == 302


def test_page_filters_and_sorts(trail):
    client = signed_in(Role.AUDITOR)

    only_system = client.get(PAGE, {"actor": "system"}).content.decode()
    assert "user.create" in only_system
    assert "team.create" not in only_system
    by_text = client.get(PAGE, {"q": "Research"}).content.decode()
    assert "Research" in by_text
    assert "Platform" not in by_text
    by_type = client.get(PAGE, {"target_type": "accounts.team"}).content.decode()
    assert "team.create" in by_type
    assert "user.create" not in by_type
    future = client.get(PAGE, {"since": "2999-01-01T00:00:00Z"}).content.decode()
    assert "No events" in future
    ascending = client.get(PAGE, {"sort": "sequence"}).content.decode()
    assert ascending.index("Platform") < ascending.index("Research")
    descending = client.get(PAGE, {"sort": "-sequence"}).content.decode()
    assert descending.index("Research") < descending.index("Platform")


def test_page_paginates(trail):
    for index in range(60):
        services.team_create(actor=trail, name=f"Team {index:02}")
    client = signed_in(Role.AUDITOR)

    first = client.get(PAGE).content.decode()
    second = client.get(PAGE, {"page": 2}).content.decode()
    assert "Team 59" in first
    assert "Team 59" not in second
    assert "Platform" in second


@pytest.mark.parametrize(
    ("roles", "status"),
    [((Role.AUDITOR,), 200), ((Role.ADMIN,), 200), ((Role.END_USER,), 403), ((), 403)],
)
def test_api_permission(trail, roles, status):
    assert signed_in(*roles).get(API).status_code == status


def test_api_refuses_anonymous(client, trail):
    assert client.get(API).status_code in (401, 403)


def test_api_lists_with_filters_and_cursor(trail):
    client = signed_in(Role.AUDITOR)
    newest = client.get(API, {"page_size": 2}).json()["results"]
    assert newest[0]["prev_hash"] == newest[1]["hash"]

    body = client.get(API, {"page_size": 1, "action": "team."}).json()
    assert [event["target_repr"] for event in body["results"]] == ["Research"]
    rest = client.get(body["next"]).json()
    assert [event["target_repr"] for event in rest["results"]] == ["Platform"]
    assert rest["next"] is None

    filtered = client.get(API, {"action": "team.", "q": "Platform"}).json()["results"]
    assert [(e["action"], e["target_type"]) for e in filtered] == [("team.create", "accounts.team")]


def test_api_detail_by_sequence_and_404(trail):
    client = signed_in(Role.AUDITOR)
    assert client.get(f"{API}1/").json()["sequence"] == 1
    assert client.get(f"{API}999/").status_code == 404
    assert signed_in(Role.END_USER).get(f"{API}1/").status_code == 403


def test_api_is_read_only(trail):
    client = signed_in(Role.ADMIN)
    assert client.post(API, {}).status_code == 405
    assert client.delete(f"{API}1/").status_code == 405


def test_django_admin_shows_the_trail_read_only(trail):
    client = signed_in(Role.ADMIN)
    assert client.get("/django-admin/audit/auditevent/").status_code == 200
    assert client.get("/django-admin/audit/auditevent/add/").status_code == 403
