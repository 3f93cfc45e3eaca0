"""The audit trail in Django admin: readable, never editable (services write it)."""

from __future__ import annotations

from django.contrib import admin

from governance.accounts.admin import ReadOnlyModelAdmin
from governance.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    list_display = ["sequence", "created_at", "actor_repr", "action", "target_repr"]
    list_filter = ["action"]
    search_fields = ["actor_repr", "action", "target_repr", "request_id"]
    ordering = ["-sequence"]
