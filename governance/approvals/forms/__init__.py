"""Request forms, one per kind, checked against the inventory before submission.

A form only offers what the inventory holds for the request's cluster (live nodes other
than the guest's own, storages of the right class, the guest's snapshots, teams) and
turns the answers into the request's ``parameters`` JSON with ``parameters()``. Policy
rules (allowed nodes, copy limits, quota) are the submit service's to check: its
``ValidationError`` is shown on the same form, so the requester sees every refusal
before anything is stored.

The idempotency key is made when the empty form is rendered and travels in a hidden
field, so a double-clicked submit posts the same key twice and the service stores one
request.
"""

from __future__ import annotations

from governance.approvals.forms.backups import BackupDeleteForm
from governance.approvals.forms.base import MIN_JUSTIFICATION, RequestForm
from governance.approvals.forms.copies import EXPORT_METHODS, CloneForm, ExportForm
from governance.approvals.forms.moves import MigrateForm
from governance.approvals.forms.new_guests import ImportForm, ProvisionForm
from governance.approvals.forms.rights import (
    ACCESS_ROLES,
    AccessForm,
    ExceptionForm,
    OwnershipTransferForm,
)
from governance.approvals.forms.snapshots import RollbackForm, SnapshotDeleteForm

__all__ = [
    "ACCESS_ROLES",
    "EXPORT_METHODS",
    "FORMS",
    "MIN_JUSTIFICATION",
    "VM_KINDS",
    "AccessForm",
    "BackupDeleteForm",
    "CloneForm",
    "ExceptionForm",
    "ExportForm",
    "ImportForm",
    "MigrateForm",
    "OwnershipTransferForm",
    "ProvisionForm",
    "RequestForm",
    "RollbackForm",
    "SnapshotDeleteForm",
]

FORMS: dict[str, type[RequestForm]] = {
    form.kind: form
    for form in (
        ProvisionForm,
        ImportForm,
        ExportForm,
        MigrateForm,
        CloneForm,
        RollbackForm,
        SnapshotDeleteForm,
        BackupDeleteForm,
        OwnershipTransferForm,
        ExceptionForm,
        AccessForm,
    )
}
# Kinds whose request page is opened from a VM page, in the order its buttons show.
VM_KINDS = tuple(kind for kind, form in FORMS.items() if form.needs_vm)
