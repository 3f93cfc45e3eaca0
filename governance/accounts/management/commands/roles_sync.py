"""``manage.py roles_sync``: (re)create the role groups and set their permissions."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from governance.accounts.role_sync import ensure_permissions, roles_sync


class Command(BaseCommand):
    help = "Create the five role groups and give each exactly its declared permissions."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            ensure_permissions(apps=apps)
            counts = roles_sync()
        for role, count in counts.items():
            self.stdout.write(f"{role.value:<18} {count} permissions")
