"""Profile, people and team pages: the permission triple and the changes they make."""

from __future__ import annotations

import pytest
from django.urls import reverse

from governance.accounts import services
from governance.accounts.models import Team, TeamMembership
from governance.accounts.roles import Role
from governance.audit.models import AuditEvent
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_with_member(admin_user):
    team = TeamFactory(name="Platform")
    member = UserFactory(username="mo")
    services.team_member_add(actor=admin_user, team=team, user=member, is_manager=True)
    return team, member


def test_profile_shows_roles_and_teams(client_for, team_with_member):
    team, member = team_with_member
    member.groups.add(*UserFactory(roles=[Role.MANAGER]).groups.all())
    page = client_for(member).get(reverse("accounts:profile")).content.decode()

    assert "Manager" in page
    assert "Platform" in page
    assert reverse("accounts:team", args=[team.slug]) in page


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("accounts:people"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_people_page_is_for_admins(client_for, admin_user, end_user, team_with_member):
    page = client_for(admin_user).get(reverse("accounts:people"))
    assert page.status_code == 200
    assert b"mo" in page.content
    assert b"Platform" in page.content

    assert client_for(end_user).get(reverse("accounts:people")).status_code == 403


def test_team_page_triple(client_for, admin_user, end_user, team_with_member):
    team, member = team_with_member
    url = reverse("accounts:team", args=[team.slug])

    assert client_for(admin_user).get(url).status_code == 200
    assert client_for(member).get(url).status_code == 200
    assert client_for(end_user).get(url).status_code == 404


def test_member_add_triple_and_audit(client_for, admin_user, end_user, team_with_member):
    team, member = team_with_member
    newcomer = UserFactory(username="newcomer")
    url = reverse("accounts:team-member-add", args=[team.slug])
    data = {"user": "newcomer", "is_manager": "on"}

    assert client_for(end_user).post(url, data).status_code == 404
    assert client_for(member).post(url, data).status_code == 403
    assert client_for(admin_user).post(url, data).status_code == 302

    assert TeamMembership.objects.get(team=team, user=newcomer).is_manager
    event = AuditEvent.objects.filter(action="team.member_add").first()
    assert (event.actor, event.after["user"]) == (admin_user, "newcomer")


def test_member_remove_by_admin(client_for, admin_user, team_with_member):
    team, _member = team_with_member
    url = reverse("accounts:team-member-remove", args=[team.slug])

    assert client_for(admin_user).post(url, {"user": "mo"}).status_code == 302
    assert not TeamMembership.objects.filter(team=team).exists()


def test_team_create_page_and_errors_inline(client_for, admin_user, end_user):
    url = reverse("accounts:team-create")

    assert client_for(end_user).post(url, {"name": "Ops"}).status_code == 403
    response = client_for(admin_user).post(url, {"name": "Ops", "description": "Night shift"})
    assert response.status_code == 302
    assert Team.objects.get().slug == "ops"
    duplicate = client_for(admin_user).post(url, {"name": "ops"})
    assert duplicate.status_code == 400
    assert b"already exists" in duplicate.content


def test_roles_set_page(client_for, admin_user, end_user):
    url = reverse("accounts:roles-set")
    data = {"user": end_user.username, "roles": ["auditor", "end_user"]}

    assert client_for(end_user).post(url, data).status_code == 403
    assert client_for(admin_user).post(url, data).status_code == 302
    assert set(end_user.groups.values_list("name", flat=True)) == {"auditor", "end_user"}


def test_admins_reach_django_admin_and_end_users_do_not(client_for, admin_user, end_user):
    assert client_for(admin_user).get("/django-admin/accounts/user/").status_code == 200
    assert client_for(end_user).get("/django-admin/").status_code == 302
