"""Forms of the kinds that act on one of the guest's snapshots: rollback and deletion."""

from __future__ import annotations

from typing import Any

from django import forms

from governance.approvals.forms.base import RequestForm
from inventory.models import Copy
from inventory.models.ledgers import CopyKind


class _SnapshotForm(RequestForm):
    """A request about one of the guest's recorded, still existing snapshots."""

    snapshot = forms.ChoiceField(choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = (
            Copy.objects.filter(vm=self.vm, kind=CopyKind.SNAPSHOT, deleted_at__isnull=True)
            .exclude(name="current")
            .order_by("created_at")
            .values_list("name", flat=True)
            if self.vm is not None
            else []
        )
        self.fields["snapshot"].choices = [(name, name) for name in names]


class RollbackForm(_SnapshotForm):
    kind = "rollback"
    title = "Request a rollback to a snapshot"


class SnapshotDeleteForm(_SnapshotForm):
    kind = "snapshot_delete"
    title = "Request a snapshot deletion"
