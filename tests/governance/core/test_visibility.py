"""Visibility rules registered with the permission door: restrict, can and 404 follow them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Q
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from governance.accounts.models import Team
from governance.accounts.roles import Role
from governance.core.permissions import (
    can,
    get_object_or_404_for,
    grant,
    register_visibility,
    restrict,
    unregister_visibility,
)
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _described_by_user(user) -> Q:
    # A rule over the model's own columns, as a real rule would be.
    return Q(description=f"seen by {user.username}")


@pytest.fixture
def rule():
    register_visibility(Team, _described_by_user)
    yield _described_by_user
    unregister_visibility(Team, _described_by_user)


def test_a_rule_widens_restrict_can_and_lookup(rule):
    user = UserFactory(username="ann")
    mine = TeamFactory(name="Mine", description="seen by ann")
    other = TeamFactory(name="Other", description="seen by bob")

    assert list(restrict(Team.objects.all(), user)) == [mine]
    assert can(user, "view", mine)
    assert not can(user, "view", other)
    assert get_object_or_404_for(user, Team.objects.all(), pk=mine.pk) == mine
    with pytest.raises(Http404):
        get_object_or_404_for(user, Team.objects.all(), pk=other.pk)


def test_a_rule_is_ored_with_object_grants(rule):
    user = UserFactory(username="ann")
    mine = TeamFactory(name="Mine", description="seen by ann")
    granted = TeamFactory(name="Granted")
    TeamFactory(name="Hidden")
    grant(user, "view", granted)

    assert set(restrict(Team.objects.all(), user)) == {mine, granted}


def test_a_rule_only_widens_viewing(rule):
    user = UserFactory(username="ann")
    mine = TeamFactory(name="Mine", description="seen by ann")

    assert restrict(Team.objects.all(), user, "change").count() == 0
    assert not can(user, "change", mine)


def test_no_rule_reaches_anonymous_or_inactive_users(rule):
    from django.contrib.auth.models import AnonymousUser

    inactive = UserFactory(username="ann", is_active=False)
    TeamFactory(name="Mine", description="seen by ann")

    assert restrict(Team.objects.all(), inactive).count() == 0
    assert restrict(Team.objects.all(), AnonymousUser()).count() == 0


def test_registration_is_idempotent_and_withdrawable():
    user = UserFactory(username="ann")
    TeamFactory(name="Mine", description="seen by ann")
    register_visibility(Team, _described_by_user)
    register_visibility(Team, _described_by_user)
    try:
        assert restrict(Team.objects.all(), user).count() == 1
    finally:
        unregister_visibility(Team, _described_by_user)
    unregister_visibility(Team, _described_by_user)  # a second withdrawal is harmless
    assert restrict(Team.objects.all(), user).count() == 0


def test_role_wide_rights_skip_the_rules(rule):
    auditor = UserFactory(roles=[Role.AUDITOR])
    TeamFactory(name="A")
    TeamFactory(name="B")
    with CaptureQueriesContext(connection) as queries:
        assert restrict(Team.objects.all(), auditor).count() == 2
    assert "seen by" not in " ".join(q["sql"] for q in queries.captured_queries)


def test_the_rule_is_one_sql_query(rule):
    user = UserFactory(username="ann")
    TeamFactory(name="Mine", description="seen by ann")
    restrict(Team.objects.all(), user).count()  # warm the permission caches
    with CaptureQueriesContext(connection) as queries:
        assert restrict(Team.objects.all(), user).count() == 1
    assert len(queries.captured_queries) == 1


def _keys_described_by_user(user):
    # A key rule: the primary keys it makes visible, as a subquery.
    return Team.objects.filter(description=f"seen by {user.username}").values("pk")


@pytest.fixture
def key_rule():
    register_visibility(Team, _keys_described_by_user)
    yield _keys_described_by_user
    unregister_visibility(Team, _keys_described_by_user)


def test_key_rules_and_grants_are_one_union_of_keys(key_rule):
    """Grants and key rules become a single ``pk IN (... UNION ALL ...)``, which the
    planner runs from the few keys instead of testing every row against each subquery."""
    user = UserFactory(username="ann")
    mine = TeamFactory(name="Mine", description="seen by ann")
    granted = TeamFactory(name="Granted")
    hidden = TeamFactory(name="Hidden")
    grant(user, "view", granted)
    restrict(Team.objects.all(), user).count()  # warm the permission caches

    with CaptureQueriesContext(connection) as queries:
        assert set(restrict(Team.objects.all(), user)) == {mine, granted}
    sql = queries.captured_queries[0]["sql"]
    assert sql.count("UNION ALL") == 2  # direct grants, group grants, the rule
    assert " OR " not in sql
    assert can(user, "view", mine)
    assert not can(user, "view", hidden)
    with pytest.raises(Http404):
        get_object_or_404_for(user, Team.objects.all(), pk=hidden.pk)
