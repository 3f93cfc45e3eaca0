"""export: take a copy of the request's VM out, recorded in the copy ledger as an
``export`` copy that Steward deletes through the API when its availability ends
(``export_expiry``, run by a beat task).

Parameters (``ExportForm``): ``method`` and ``available_days``, then per method:

- ``backup`` (the default): a vzdump archive on ``storage``, an external-class storage of
  the VM's cluster. Steps: back up, find the archive, record it.
- ``cluster``: a copy on another registered, enabled cluster (``target_cluster``,
  ``target_node``, ``target_storage``). The VM itself is never stopped nor locked: a
  full clone of it is made on its own cluster (PVE clones running guests), named
  ``export-<request id>-<vmid>``, onto ``clone_storage`` (chosen at submission by
  ``clone_storage_for``: the approved storage the VM's disks are on, else the first
  approved storage its node has), and that stopped clone is moved to the target cluster
  by PVE's remote migration *with* ``delete``, so nothing of it stays on the source
  cluster. The copy's disks go to approved or external storage of the target cluster
  (``export_check``); a copy on external storage is reported by no-removable-media
  policies that check disks, which is accurate: the data sits outside approved storage.
  PVE places the copy on the node answering the target cluster's API; when that is not
  ``target_node`` (the node host pinning was checked against) the copy is migrated
  there within the target cluster. Steps (in ``export_copy``): reserve a vmid there,
  reserve one for the clone, clone, move the clone, place, refresh both clusters, give
  the copy its owner (the requester, with an ownership lease ending with the
  availability, and the source's classification, so policies scoped by classification
  follow the data); then record it.
  A failed clone task leaves nothing (PVE removes the half-made clone); a crashed worker
  adopts the clone or migration task it had started instead of starting another.
"""

from __future__ import annotations

from django.utils import timezone

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.execution.kinds.common import cluster_by_name
from governance.approvals.execution.kinds.export_copy import (
    BACKUP,
    CLUSTER,
    COPY_STEPS,
    export_expires,
    export_method,
)
from governance.approvals.execution.kinds.export_expiry import (  # noqa: F401 - re-exported
    LEDGER_STEP,
    export_expire,
    exports_due,
    exports_expire,
)
from inventory.models import Copy, CopyKind, Storage, VirtualMachine

# Backup to an export storage -------------------------------------------------------------


def _backup(ctx: StepContext) -> StepResult:
    if export_method(ctx) != BACKUP:
        return StepResult.skipped("copied to another cluster instead")
    target = ctx.vm_target()
    upid = ctx.gateway.vzdump(
        node=target["node"],
        vmid=target["vmid"],
        storage=ctx.params["storage"],
        notes=f"Steward export, request #{ctx.request.pk}",
    )
    return StepResult.started(upid, f"backing up to {ctx.params['storage']}")


def _archive(ctx: StepContext) -> StepResult:
    """The archive this backup wrote: the newest one of the guest on the storage."""
    if export_method(ctx) != BACKUP:
        return StepResult.skipped("copied to another cluster instead")
    target = ctx.vm_target()
    volumes = [
        v
        for v in ctx.gateway.storage_content(node=target["node"], storage=ctx.params["storage"])
        if v.content == "backup" and v.vmid == target["vmid"]
    ]
    if not volumes:
        return StepResult.failed("the backup ended but no archive of the guest is on the storage")
    newest = max(volumes, key=lambda v: (v.ctime or timezone.now(), v.volid))
    return StepResult.done(f"archive {newest.volid}", volid=newest.volid, size=newest.size)


# Both ------------------------------------------------------------------------------------


def _ledger(ctx: StepContext) -> StepResult:
    """Atomic: open the export copy row and remember when it expires (and, for a cluster
    copy, where the copy is, which is what the expiry acts on)."""
    vm = ctx.request.vm
    now, expires = timezone.now(), export_expires(ctx)
    if export_method(ctx) == CLUSTER:
        target = cluster_by_name(ctx.params["target_cluster"])
        vmid, node = ctx.results["target_vmid"], ctx.results.get("target_node", "")
        storage = Storage.objects.filter(cluster=target, name=ctx.params["target_storage"]).first()
        copied = VirtualMachine.objects.get(pk=ctx.results["vm_id"])
        name, size, task = f"{target.name}/{vmid}", copied.maxdisk, "copy"
        where = {
            "target_cluster_id": target.pk,
            "target_vmid": vmid,
            "copy_name": copied.name,
            "copy_vm_id": copied.pk,
        }
    else:
        name, size, task, where = ctx.results["volid"], ctx.results.get("size", 0), "backup", {}
        storage = Storage.objects.filter(cluster_id=vm.cluster_id, name=ctx.params["storage"])
        storage = storage.first()
        node = "" if storage is None or storage.shared else ctx.vm_target()["node"]
    copy, _ = Copy.objects.get_or_create(
        cluster_id=vm.cluster_id,
        kind=CopyKind.EXPORT,
        source_vmid=vm.vmid,
        node=node,
        name=name,
        deleted_at=None,
        defaults={
            "vm": vm,
            "storage": storage,
            "storage_name": storage.name if storage else ctx.params.get("storage", ""),
            "storage_class": storage.storage_class if storage else "",
            "size": size or 0,
            "created_at": now,
            "task_upid": ctx.execution.steps.get(name=task).upid,
        },
    )
    return StepResult.done(
        f"export {name} recorded, available until {expires:%Y-%m-%d %H:%M}",
        copy_id=copy.pk,
        expires_at=expires.isoformat(),
        **where,
    )


kind(
    "export",
    StepSpec("backup", "Back up to the export storage", _backup, task_types=("vzdump",)),
    StepSpec("archive", "Find the archive", _archive),
    *COPY_STEPS,
    StepSpec(LEDGER_STEP, "Record the export", _ledger, atomic=True),
)
