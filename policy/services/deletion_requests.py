"""Deletion requests: a copy the policy may not delete on its own (a backup on removable
storage) is deleted through an approval request a person submits from the violation.

``deletion_request_record`` ties the submitted request to the violation's newest
``deletion_request`` remediation: its ``params`` gain ``request_id`` and its log a line
saying who asked, so the remediation run shows what became of it. Policy imports nothing
from approvals: the request is passed by id. The violation itself is resolved the usual
way, by the reconcile after the sync that no longer finds the copy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.audit.services import audit_record
from policy.models import ActionKind, Remediation, Violation


def deletion_request_record(
    *, violation_id: int, request_id: int, actor: Any, now: datetime | None = None
) -> Remediation | None:
    """Record request ``request_id`` on the violation's newest deletion remediation (None
    when the policy runs in audit mode and planned none); audited on the violation."""
    now = now or timezone.now()
    with transaction.atomic():
        violation = Violation.objects.get(pk=violation_id)
        remediation = (
            Remediation.objects.select_for_update()
            .filter(violation=violation, action=ActionKind.DELETION_REQUEST)
            .order_by("-created_at", "-id")
            .first()
        )
        if remediation is not None:
            who = getattr(actor, "username", "") or "the system"
            line = f"{now:%Y-%m-%d %H:%M:%S} deletion requested by {who}: request #{request_id}"
            remediation.params = {**remediation.params, "request_id": request_id}
            remediation.log = f"{remediation.log}\n{line}" if remediation.log else line
            remediation.save(update_fields=["params", "log"])
        audit_record(
            actor=actor,
            action="policy.deletion_requested",
            target=violation,
            after={
                "request": request_id,
                "remediation": remediation.pk if remediation is not None else None,
                "rule_key": violation.rule_key,
            },
        )
    return remediation
