"""Role groups are seeded with their permissions, idempotently; role helpers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from governance.accounts.role_sync import declared_role_permissions
from governance.accounts.roles import Role, has_role, roles_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _group_permissions() -> dict[str, set[str]]:
    return {
        group.name: {
            f"{permission.content_type.app_label}.{permission.codename}"
            for permission in group.permissions.select_related("content_type")
        }
        for group in Group.objects.filter(name__in=Role.values)
    }


def test_migration_seeds_every_role_group_with_its_declared_permissions():
    seeded = _group_permissions()

    assert set(seeded) == set(Role.values)
    for role, names in declared_role_permissions().items():
        assert seeded[role.value] == names
    assert "audit.view_auditevent" in seeded["auditor"]
    assert "audit.view_auditevent" not in seeded["end_user"]
    assert "accounts.change_team" in seeded["admin"]
    assert "accounts.change_team" not in seeded["auditor"]


def test_roles_sync_command_restores_drifted_groups_and_is_idempotent(capsys):
    Group.objects.get(name="auditor").permissions.clear()
    Group.objects.get(name="manager").delete()
    before = _group_permissions()
    assert "manager" not in before

    call_command("roles_sync")
    after_first = _group_permissions()
    call_command("roles_sync")

    assert after_first == _group_permissions()
    assert after_first["auditor"] == declared_role_permissions()[Role.AUDITOR]
    assert "manager" in after_first
    assert "auditor" in capsys.readouterr().out


def test_roles_of_and_has_role():
    auditor = UserFactory(roles=[Role.AUDITOR, Role.END_USER])
    superuser = UserFactory(is_superuser=True)

    assert roles_of(auditor) == {Role.AUDITOR, Role.END_USER}
    assert has_role(auditor, Role.ADMIN, "auditor")
    assert not has_role(auditor, Role.ADMIN)
    assert has_role(superuser, Role.ADMIN)
    assert roles_of(UserFactory(is_active=False, roles=[Role.ADMIN])) == set()
