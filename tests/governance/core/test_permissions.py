"""The object-permission helper on a real model (Team): allowed, denied, invisible."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from governance.accounts.models import Team
from governance.accounts.roles import Role
from governance.core.permissions import can, get_object_or_404_for, grant, restrict, revoke
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams() -> tuple[Team, Team, Team]:
    return TeamFactory(name="Alpha"), TeamFactory(name="Beta"), TeamFactory(name="Gamma")


def test_object_grant_makes_only_that_object_visible(teams):
    alpha, beta, _ = teams
    user = UserFactory()
    grant(user, "view", alpha)

    assert list(restrict(Team.objects.all(), user)) == [alpha]
    assert can(user, "view", alpha)
    assert not can(user, "view", beta)


def test_group_grant_reaches_group_members(teams):
    _, beta, _ = teams
    user = UserFactory()
    group = Group.objects.create(name="beta-readers")
    user.groups.add(group)
    grant(group, "view", beta)

    assert list(restrict(Team.objects.all(), user)) == [beta]
    assert can(user, "view", beta)


def test_role_wide_permission_sees_every_object(teams):
    auditor = UserFactory(roles=[Role.AUDITOR])

    assert restrict(Team.objects.all(), auditor).count() == 3
    assert can(auditor, "view", teams[2])
    # The auditor role reads but does not change teams.
    assert restrict(Team.objects.all(), auditor, "change").count() == 0


def test_superuser_sees_all_and_anonymous_or_inactive_nothing(teams):
    assert restrict(Team.objects.all(), UserFactory(is_superuser=True)).count() == 3
    assert restrict(Team.objects.all(), AnonymousUser()).count() == 0
    inactive = UserFactory(is_active=False)
    grant(inactive, "view", teams[0])
    assert restrict(Team.objects.all(), inactive).count() == 0
    assert not can(inactive, "view", teams[0])


def test_revoke_withdraws_the_grant(teams):
    alpha = teams[0]
    user = UserFactory()
    grant(user, "view", alpha)
    revoke(user, "view", alpha)

    assert restrict(Team.objects.all(), user).count() == 0
    assert not can(user, "view", alpha)


def test_grants_on_other_models_with_the_same_pk_do_not_leak(teams):
    alpha = teams[0]
    user = UserFactory()
    other = Group.objects.create(name="same-pk-as-a-team")
    grant(user, "view", other)

    assert not restrict(Team.objects.filter(pk=alpha.pk), user).exists()


def test_get_object_or_404_for_answers_the_triple(teams):
    alpha, beta, _ = teams
    member = UserFactory()
    grant(member, "view", alpha)
    admin = UserFactory(roles=[Role.ADMIN])

    assert get_object_or_404_for(admin, Team.objects.all(), "change", slug=alpha.slug) == alpha
    with pytest.raises(PermissionDenied):
        get_object_or_404_for(member, Team.objects.all(), "change", slug=alpha.slug)
    with pytest.raises(Http404):
        get_object_or_404_for(member, Team.objects.all(), "change", slug=beta.slug)


def test_restrict_filters_in_sql_without_id_lists(teams):
    """Whatever the number of grants, one query with subqueries of constant size."""
    user = UserFactory()
    group = Group.objects.create(name="many")
    user.groups.add(group)
    extra = [TeamFactory() for _ in range(40)]
    grant(user, "view", teams[0])

    def captured_team_query() -> tuple[str, int]:
        queryset = restrict(Team.objects.all(), user)
        with CaptureQueriesContext(connection) as captured:
            rows = list(queryset)
        assert len(captured.captured_queries) == 1
        return captured.captured_queries[0]["sql"], len(rows)

    sql_one, count_one = captured_team_query()
    for team in extra:
        grant(group, "view", team)
    sql_many, count_many = captured_team_query()

    assert (count_one, count_many) == (1, 41)
    assert sql_one == sql_many  # no ids spliced into the SQL
    assert "guardian_userobjectpermission" in sql_many
    assert "guardian_groupobjectpermission" in sql_many


def test_restrict_builds_lazily(teams, django_assert_max_num_queries):
    user = UserFactory()
    grant(user, "view", teams[0])
    user = type(user).objects.get(pk=user.pk)
    # Checking the model-wide permission loads the user's permission sets (two
    # queries, then cached); no query reads guardian's tables until evaluation.
    with CaptureQueriesContext(connection) as captured:
        queryset = restrict(Team.objects.all(), user)
    assert not any("guardian" in query["sql"] for query in captured.captured_queries)
    with django_assert_max_num_queries(1):
        assert list(queryset) == [teams[0]]
