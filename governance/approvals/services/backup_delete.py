"""backup_delete requests: the check before submission and the link back to the policy.

- The backup must be an open ``backup`` row of the VM in the copy ledger (what the last
  sync saw); its storage and the node that sees it are taken from there, never from the
  requester, so a request can only ever delete a backup of the VM it names.
- One open request per backup: a second (with another submission key) is refused with
  the number of the first; the same key twice is ``request_submit``'s double-click case.
- ``violation`` (optional, set by the violation page's "Request deletion" link) must be
  an open ``backup:<volid>`` violation of the same VM the requester can see. Once the
  request is stored, the violation's deletion remediation records its id
  (``policy.services.deletion_requests``), in the submit's transaction.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.signals import post_save

from governance.approvals.models import Request, RequestKind, RequestState
from governance.approvals.services.requests import validator
from governance.core.permissions import restrict
from inventory.models import Cluster, Copy, CopyKind, VirtualMachine
from policy.models import Violation
from policy.services.deletion_requests import deletion_request_record

#: Requests in these states still stand for the deletion of their backup.
_STANDING = (RequestState.PENDING, RequestState.APPROVED, RequestState.EXECUTING)


def backups_open(vm: VirtualMachine) -> Any:
    """The VM's backups the copy ledger holds as existing, oldest first."""
    return Copy.objects.filter(vm=vm, kind=CopyKind.BACKUP, deleted_at__isnull=True).order_by(
        "created_at", "id"
    )


def backup_delete_standing(*, vm_id: int, volid: str) -> Request | None:
    """The open request that already asks to delete ``volid`` of VM ``vm_id``, if any."""
    return (
        Request.objects.filter(kind=RequestKind.BACKUP_DELETE, vm_id=vm_id, state__in=_STANDING)
        .filter(parameters__volid=volid)
        .order_by("created_at", "id")
        .first()
    )


@validator(RequestKind.BACKUP_DELETE)
def backup_delete_check(
    *, requester: Any, vm: VirtualMachine, cluster: Cluster, parameters: dict[str, Any]
) -> dict[str, Any]:
    volid = str(parameters.get("volid") or "").strip()
    if not volid:
        raise ValidationError({"volid": "Choose the backup to delete."})
    copy = backups_open(vm).filter(name=volid).first()
    if copy is None:
        raise ValidationError(
            {
                "volid": f"The copy ledger holds no existing backup {volid} of this VM; "
                "choose one of its recorded backups (a new backup appears after the next sync)."
            }
        )
    standing = backup_delete_standing(vm_id=vm.pk, volid=volid)
    if standing is not None:
        raise ValidationError(
            {"volid": f"Request #{standing.pk} already asks to delete this backup; follow it."}
        )
    params: dict[str, Any] = {
        "volid": volid,
        "storage": copy.storage_name,
        # Local storage: the node holding it; shared storage: any node, the VM's own.
        "node": copy.node or (vm.node.name if vm.node_id else ""),
    }
    if not params["node"]:
        raise ValidationError({"volid": "No node is known that sees this backup's storage."})
    if parameters.get("violation"):
        params["violation"] = _violation_of(requester, vm, volid, parameters["violation"])
    return params


def _violation_of(requester: Any, vm: VirtualMachine, volid: str, raw: Any) -> int:
    try:
        violation_id = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({"violation": "Not a violation number."}) from None
    found = restrict(Violation.objects.all(), requester).filter(
        pk=violation_id, vm=vm, rule_key=f"backup:{volid}"
    )
    if not found.exists():
        raise ValidationError(
            {"violation": f"Violation {violation_id} is not about backup {volid} of this VM."}
        )
    if not found.filter(resolved_at__isnull=True).exists():
        raise ValidationError({"violation": f"Violation {violation_id} is already resolved."})
    return violation_id


def _on_request_saved(sender: Any, instance: Request, created: bool, **_: Any) -> None:
    """A new backup_delete request from a violation is recorded on its remediation."""
    if created and instance.kind == RequestKind.BACKUP_DELETE:
        violation_id = instance.parameters.get("violation")
        if violation_id:
            deletion_request_record(
                violation_id=int(violation_id),
                request_id=instance.pk,
                actor=instance.requester,
                now=instance.created_at,
            )


post_save.connect(_on_request_saved, sender=Request, dispatch_uid="approvals_backup_delete_link")
