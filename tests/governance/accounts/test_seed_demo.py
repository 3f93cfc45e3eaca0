"""The demo seed: one user per role, teams with managers, idempotent, logins printed."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from governance.accounts.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS
from governance.accounts.models import Team, TeamMembership, User
from governance.accounts.roles import Role, roles_of
from governance.audit.models import AuditEvent
from governance.audit.verify import chain_verify

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug_on(settings):
    # pytest-django runs with DEBUG off; the command is meant for DEBUG (demo) setups.
    settings.DEBUG = True


def test_seed_demo_creates_every_role_and_teams_and_is_idempotent(capsys):
    call_command("seed_demo")
    output = capsys.readouterr().out
    events = AuditEvent.objects.count()

    held = set().union(*(roles_of(user) for user in User.objects.all()))
    assert held == set(Role)
    assert Team.objects.count() == 3
    assert TeamMembership.objects.filter(is_manager=True).count() == 3
    for demo in DEMO_USERS:
        assert f"{demo.username} " in output
    assert DEMO_PASSWORD in output

    call_command("seed_demo")
    assert AuditEvent.objects.count() == events
    assert User.objects.count() == len(DEMO_USERS)
    assert chain_verify().ok


def test_seed_demo_restores_a_changed_password_and_roles():
    call_command("seed_demo")
    alice = User.objects.get(username="alice")
    alice.set_password("something-else-entirely")
    alice.save()
    alice.groups.clear()

    call_command("seed_demo")
    assert User.objects.get(username="alice").check_password(DEMO_PASSWORD)
    assert roles_of(User.objects.get(username="alice")) == {Role.END_USER}


def test_demo_logins_work_through_the_login_page():
    call_command("seed_demo")
    response = Client().post("/accounts/login/", {"username": "auditor", "password": DEMO_PASSWORD})
    assert response.status_code == 302


def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="known password"):
        call_command("seed_demo")
