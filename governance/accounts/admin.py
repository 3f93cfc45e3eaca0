"""Accounts in Django admin.

Users are editable here (passwords, activation); role and team changes go through the
Steward pages, whose services write the audit trail, so teams are read-only here.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from governance.accounts.models import Team, TeamMembership, User


@admin.register(User)
class StewardUserAdmin(UserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_active", "is_staff"]


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Viewable in Django admin, changed only through Steward's services (which audit)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    fields = ["user", "is_manager", "created_at"]
    readonly_fields = fields


@admin.register(Team)
class TeamAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]
