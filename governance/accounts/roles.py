"""The five roles of Steward; each is a Django Group of the same name.

Rights on whole models come from the role groups (seeded by a data migration and
``manage.py roles_sync``); rights on single objects come from
``governance.core.permissions``. Superusers count as admins everywhere.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class Role(models.TextChoices):
    END_USER = "end_user", "End user"
    MANAGER = "manager", "Manager"
    SECURITY_OFFICER = "security_officer", "Security officer"
    ADMIN = "admin", "Admin"
    AUDITOR = "auditor", "Auditor"


def roles_of(user: Any) -> set[Role]:
    """The roles a user holds (empty for anonymous or inactive users); one query.

    Not cached: a page that asks several times should call this once and keep the set.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    names = user.groups.filter(name__in=Role.values).values_list("name", flat=True)
    roles = {Role(name) for name in names}
    if user.is_superuser:
        roles.add(Role.ADMIN)
    return roles


def has_role(user: Any, *roles: Role | str) -> bool:
    """Whether the user holds at least one of ``roles``."""
    wanted = {Role(role) for role in roles}
    return bool(roles_of(user) & wanted)
