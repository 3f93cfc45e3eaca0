"""The OS release table (end-of-life dates) in Django admin, the one place admins edit it.

Every add, change and delete is written to the audit trail in the same transaction
(Django admin wraps each save in one).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.forms.models import model_to_dict

from governance.audit.services import audit_record
from inventory.models import OsRelease

_AUDITED = ["label", "os_id", "version", "ostype", "end_of_life", "note"]


def _values(release: OsRelease) -> dict[str, Any]:
    values = model_to_dict(release, fields=_AUDITED)
    values["end_of_life"] = release.end_of_life.isoformat() if release.end_of_life else None
    return values


@admin.register(OsRelease)
class OsReleaseAdmin(admin.ModelAdmin):
    list_display = ["label", "os_id", "version", "ostype", "end_of_life", "note"]
    list_filter = ["os_id"]
    search_fields = ["label", "os_id", "ostype"]
    ordering = ["os_id", "version", "ostype"]

    def save_model(self, request: Any, obj: OsRelease, form: Any, change: bool) -> None:
        before = _values(OsRelease.objects.get(pk=obj.pk)) if change and obj.pk else None
        super().save_model(request, obj, form, change)
        action = "inventory.os_release_changed" if change else "inventory.os_release_added"
        audit_record(
            actor=request.user, action=action, target=obj, before=before, after=_values(obj)
        )

    def delete_model(self, request: Any, obj: OsRelease) -> None:
        before = _values(obj)
        audit_record(
            actor=request.user, action="inventory.os_release_deleted", target=obj, before=before
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        for release in queryset:
            self.delete_model(request, release)
