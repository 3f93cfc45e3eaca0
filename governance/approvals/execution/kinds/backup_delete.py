"""backup_delete: delete one backup volume of the request's VM, then close its ledger row.

Parameters: ``volid``, ``storage`` and ``node`` (a node that sees the storage), taken
from the copy ledger when the request was submitted; optionally ``violation``.

The delete step is level-triggered: a volume already gone (or a storage no longer
there) is skipped, and a protected backup fails with what to do. PVE starts ``imgdel``
tasks without an id, so a worker that died after starting the delete has its task found
by ``_recover`` (an ``imgdel`` on the node since the step was claimed) rather than by the
engine's vmid match; ``_verify`` then proves the volume gone, so a wrongly adopted task
cannot pass for this one.
"""

from __future__ import annotations

from django.utils import timezone

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.execution.proxmox import TASK_SKEW
from governance.audit.services import audit_record
from inventory.models import Copy, CopyKind
from inventory.proxmox import ProxmoxNotFound
from inventory.proxmox.types import Volume


def _volume(ctx: StepContext) -> Volume | None:
    """The backup volume as Proxmox lists it now; None when it (or its storage) is gone."""
    volid = ctx.params["volid"]
    try:
        content = ctx.gateway.storage_content(
            node=ctx.params["node"], storage=ctx.params["storage"]
        )
    except ProxmoxNotFound:
        return None
    return next((v for v in content if v.volid == volid), None)


def _delete(ctx: StepContext) -> StepResult:
    volid = ctx.params.get("volid") or ""
    if not volid or not ctx.params.get("storage") or not ctx.params.get("node"):
        return StepResult.failed("the request names no backup volume, storage and node")
    volume = _volume(ctx)
    if volume is None:
        return StepResult.skipped(f"backup {volid} is already gone")
    if volume.protected:
        return StepResult.failed(
            f"backup {volid} is protected in Proxmox; an administrator has to remove the "
            "protection (Backups > Change protection) before it can be deleted, then retry"
        )
    upid = ctx.gateway.storage_volume_delete(
        node=ctx.params["node"], storage=ctx.params["storage"], volid=volid
    )
    if not upid:
        return _verify(ctx)
    return StepResult.started(upid, f"deleting backup {volid}")


def _verify(ctx: StepContext) -> StepResult:
    volid = ctx.params["volid"]
    if _volume(ctx) is not None:
        return StepResult.failed(f"the task ended but backup {volid} is still there")
    return StepResult.done(f"backup {volid} deleted")


def _recover(ctx: StepContext) -> StepResult | None:
    """A delete interrupted before its UPID was stored: done if the volume is gone, the
    ``imgdel`` task started since the claim adopted if one runs, else run again."""
    if _volume(ctx) is None:
        return StepResult.done(f"backup {ctx.params['volid']} is gone")
    since = (ctx.step.started_at or timezone.now()) - TASK_SKEW
    for task in ctx.gateway.tasks():
        if (
            task.type == "imgdel"
            and task.node == ctx.params["node"]
            and task.starttime is not None
            and task.starttime >= since
        ):
            return StepResult.started(task.upid, f"adopted task {task.upid} after a restart")
    return None


def _ledger(ctx: StepContext) -> StepResult:
    closed = Copy.objects.filter(
        cluster_id=ctx.cluster_id,
        kind=CopyKind.BACKUP,
        name=ctx.params["volid"],
        deleted_at__isnull=True,
    ).update(deleted_at=timezone.now())
    audit_record(
        actor=None,
        action="approvals.backup_deleted",
        target=ctx.request,
        after={
            "vm": ctx.request.vm_id,
            "volid": ctx.params["volid"],
            "storage": ctx.params["storage"],
            "ledger_rows_closed": closed,
        },
    )
    return StepResult.done(f"copy ledger: {closed} backup row(s) closed")


kind(
    "backup_delete",
    StepSpec("delete", "Delete the backup volume", _delete, verify=_verify, recover=_recover),
    StepSpec("ledger", "Close the backup's copy-ledger row", _ledger, atomic=True),
)
