"""Account services change data and write their audit event in the same transaction."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from governance.accounts import services
from governance.accounts.models import Team, TeamMembership
from governance.accounts.roles import Role, roles_of
from governance.audit.models import AuditEvent
from governance.core.permissions import can
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_team_create_records_the_new_team(admin_user):
    team = services.team_create(actor=admin_user, name="Platform", description="Clusters")

    event = AuditEvent.objects.get(action="team.create")
    assert (team.slug, event.actor, event.target_id) == ("platform", admin_user, str(team.pk))
    assert event.after == {"name": "Platform", "slug": "platform", "description": "Clusters"}


def test_duplicate_team_is_refused_and_leaves_no_event(admin_user):
    services.team_create(actor=admin_user, name="Platform")
    with pytest.raises(ValidationError):
        services.team_create(actor=admin_user, name="Platform")
    assert AuditEvent.objects.filter(action="team.create").count() == 1


def test_a_failing_change_leaves_no_event(admin_user, monkeypatch):
    """The event and the change commit together or not at all."""
    team = TeamFactory()
    member = UserFactory()

    def refuse(*args, **kwargs):
        raise RuntimeError("permission store unavailable")

    monkeypatch.setattr(services, "grant", refuse)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.team_member_add(actor=admin_user, team=team, user=member)

    assert not TeamMembership.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="team.").exists()


def test_member_add_grants_view_and_remove_withdraws_it(admin_user):
    team, member = TeamFactory(), UserFactory()

    services.team_member_add(actor=admin_user, team=team, user=member)
    assert can(member, "view", team)
    assert not can(member, "change", team)

    services.team_member_add(actor=admin_user, team=team, user=member, is_manager=True)
    assert TeamMembership.objects.get().is_manager
    services.team_member_add(actor=admin_user, team=team, user=member, is_manager=True)

    services.team_member_remove(actor=admin_user, team=team, user=member)
    assert not can(member, "view", team)
    assert not TeamMembership.objects.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="team.member")
        .order_by("sequence")
        .values_list("action", flat=True)
    ) == ["team.member_add", "team.member_change", "team.member_remove"]


def test_user_create_validates_password_and_records_no_secret(admin_user):
    with pytest.raises(ValidationError):
        services.user_create(actor=admin_user, username="bob", password="bob")
    user = services.user_create(
        actor=admin_user, username="bob", password="a-long-test-password", roles=[Role.AUDITOR]
    )

    assert user.check_password("a-long-test-password")
    assert roles_of(user) == {Role.AUDITOR}
    created = AuditEvent.objects.get(action="user.create")
    assert "password" not in str(created.after)


def test_roles_set_replaces_roles_and_gives_admins_django_admin(admin_user):
    user = UserFactory(roles=[Role.END_USER])
    services.user_roles_set(actor=admin_user, user=user, roles=[Role.ADMIN])
    user.refresh_from_db()
    assert (roles_of(user), user.is_staff) == ({Role.ADMIN}, True)

    services.user_roles_set(actor=admin_user, user=user, roles=[Role.AUDITOR])
    user.refresh_from_db()
    assert (roles_of(user), user.is_staff) == ({Role.AUDITOR}, False)
    last = AuditEvent.objects.filter(action="user.roles_set").first()
    assert (last.before, last.after) == ({"roles": ["admin"]}, {"roles": ["auditor"]})


def test_team_slug_defaults_to_the_name(admin_user):
    assert services.team_create(actor=admin_user, name="Data Science").slug == "data-science"
    assert Team.objects.count() == 1
