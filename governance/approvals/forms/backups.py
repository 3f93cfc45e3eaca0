"""The backup_delete request form: one of the VM's backups recorded in the copy ledger.

Opened from the VM page, or from a violation of the no-removable-media rule with the
backup (``volid``) and the violation prefilled; ``violation`` travels hidden so the
submitted request is recorded on that violation's remediation. The ledger and duplicate
checks are ``governance.approvals.services.backup_delete``'s, run on submission.
"""

from __future__ import annotations

from typing import Any

from django import forms

from governance.approvals.forms.base import RequestForm
from governance.approvals.services.backup_delete import backups_open


class BackupDeleteForm(RequestForm):
    kind = "backup_delete"
    title = "Request a backup deletion"

    volid = forms.ChoiceField(
        choices=(),
        label="Backup",
        help_text="Backups the last sync found, with their storage and class.",
        error_messages={
            "invalid_choice": "%(value)s is not an existing backup of this VM in the copy "
            "ledger; choose one of those listed."
        },
    )
    violation = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        copies = backups_open(self.vm) if self.vm is not None else []
        self.fields["volid"].choices = [
            (copy.name, f"{copy.name} ({copy.storage_class or 'unclassified'} storage)")
            for copy in copies
        ]

    def parameters(self) -> dict[str, Any]:
        params: dict[str, Any] = {"volid": self.cleaned_data["volid"]}
        if self.cleaned_data.get("violation"):
            params["violation"] = self.cleaned_data["violation"]
        return params
