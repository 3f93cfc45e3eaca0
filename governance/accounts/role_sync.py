"""Seeding the role groups and their model permissions (idempotent).

The rights of each role are declared in code, as ``role_permissions`` on each app's
``AppConfig``, so they are reviewed like code. Syncing makes each role group hold
exactly the declared permissions that exist; it runs from a data migration, after
every ``migrate`` and from ``manage.py roles_sync``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS, router

from governance.accounts.roles import Role

logger = logging.getLogger(__name__)


def declared_role_permissions() -> dict[Role, set[str]]:
    """Every app's ``role_permissions`` merged, as ``{role: {"app_label.codename"}}``."""
    merged: dict[Role, set[str]] = {role: set() for role in Role}
    for app_config in global_apps.get_app_configs():
        for role, names in getattr(app_config, "role_permissions", {}).items():
            merged[Role(role)].update(names)
    return merged


def roles_sync(*, apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS) -> dict[Role, int]:
    """Create the five role groups and set their permissions; return counts per role.

    ``apps`` is the historical registry inside a migration. Declared permissions that
    do not exist yet (their model is not migrated) are skipped and logged.
    """
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    declared = declared_role_permissions()
    wanted = set().union(*declared.values())
    found: dict[str, Any] = {}
    for permission in permission_model.objects.using(using).select_related("content_type"):
        name = f"{permission.content_type.app_label}.{permission.codename}"
        if name in wanted:
            found[name] = permission
    missing = sorted(wanted - found.keys())
    if missing:
        logger.info("role permissions not present yet (skipped): %s", ", ".join(missing))
    counts: dict[Role, int] = {}
    for role, names in declared.items():
        group, _ = group_model.objects.using(using).get_or_create(name=role.value)
        permissions = [found[name] for name in sorted(names) if name in found]
        group.permissions.set(permissions)
        counts[role] = len(permissions)
    return counts


def ensure_permissions(*, apps: Any, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create model permissions now; Django would only do it after all migrations."""
    for app_config in apps.get_app_configs():
        # Historical app configs carry no models module, which create_permissions needs.
        stub = getattr(app_config, "models_module", None) is None
        if stub:
            app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        if stub:
            app_config.models_module = None


def roles_sync_after_migrate(
    sender: Any, *, using: str = DEFAULT_DB_ALIAS, plan: Iterable | None = None, **_: Any
) -> None:
    """post_migrate receiver: re-sync once per migrate, after accounts' own signal."""
    if sender.label != "accounts" or not router.allow_migrate(using, "auth"):
        return
    # Permissions of apps later in INSTALLED_APPS may not be created yet.
    ensure_permissions(apps=global_apps, using=using)
    roles_sync(using=using)
