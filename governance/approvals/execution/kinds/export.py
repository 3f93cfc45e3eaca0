"""export: take a copy of the request's VM out, recorded in the copy ledger as an
``export`` copy that Steward deletes through the API when its availability ends
(``export_expiry``, run by a beat task).

Parameters (``ExportForm``): ``method`` and ``available_days``, then per method:

- ``backup`` (the default): a vzdump archive on ``storage``, an external-class storage of
  the VM's cluster. Steps: back up, find the archive, record it.
- ``cluster``: a copy on another registered, enabled cluster (``target_cluster``,
  ``target_node``, ``target_storage``) made by PVE's remote migration *without*
  ``delete``. The copy's disks go to approved or external storage of the target cluster
  (``export_check``); a copy on external storage is reported by no-removable-media
  policies that check disks, which is accurate: the data sits outside approved storage.
  PVE keeps the original, but stopped and locked ``migrate`` (its remote cleanup unlocks
  only the copy) until an admin runs ``qm unlock`` on the source node: ``skiplock`` is
  root@pam's, so Steward's API token cannot lift the lock, and the form says so before
  anyone submits. A running VM is copied live (PVE refuses an offline remote migration of
  a running guest), so the copy runs on the target afterwards. PVE places the copy on the
  node answering the target cluster's API; when that is not ``target_node`` (the node
  host pinning was checked against) the copy is migrated there within the target
  cluster. Steps: reserve a vmid there, copy, place, refresh both clusters, give the copy
  its owner (the requester, with an ownership lease ending with the availability, and the
  source's classification, so policies scoped by classification follow the data), record
  it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.execution.kinds.common import (
    cluster_by_name,
    refresh,
    remote_arrived,
    remote_migrate_start,
    sync_new_guest,
    target_vmid_reserve,
)
from governance.approvals.execution.kinds.export_expiry import (  # noqa: F401 - re-exported
    LEDGER_STEP,
    export_expire,
    exports_due,
    exports_expire,
)
from governance.ownership.models import Ownership
from governance.ownership.services import classification_set, ownership_at_birth
from inventory.models import Copy, CopyKind, Storage, VirtualMachine
from inventory.proxmox.types import GuestEntry

BACKUP = "backup"
CLUSTER = "cluster"


def _method(ctx: StepContext) -> str:
    return ctx.params.get("method") or BACKUP


def _expires(ctx: StepContext) -> datetime:
    """When the export's availability ends: fixed by the first step that asks."""
    if at := ctx.results.get("expires_at"):
        return datetime.fromisoformat(at)
    return timezone.now() + timedelta(days=int(ctx.params.get("available_days", 7)))


# Backup to an export storage -------------------------------------------------------------


def _backup(ctx: StepContext) -> StepResult:
    if _method(ctx) != BACKUP:
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
    if _method(ctx) != BACKUP:
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


# Copy to another cluster -----------------------------------------------------------------


def _copy_reserve(ctx: StepContext) -> StepResult:
    if _method(ctx) != CLUSTER:
        return StepResult.skipped("a backup export")
    return target_vmid_reserve(ctx)


def _copy_entry(ctx: StepContext) -> GuestEntry | None:
    target_gw = ctx.gateway_for(ctx.results["target_cluster_id"])
    return next(
        (g for g in target_gw.resources().guests if g.vmid == ctx.results["target_vmid"]), None
    )


def _copy(ctx: StepContext) -> StepResult:
    if _method(ctx) != CLUSTER:
        return StepResult.skipped("a backup export")
    if _copy_entry(ctx) is not None:
        # A re-run after the copy was started (PVE would refuse the locked source anyway):
        # done once the copy is unlocked there.
        return remote_arrived(ctx)
    running = ctx.gateway.guest_status(**ctx.vm_target()).status == "running"
    return remote_migrate_start(ctx, online=running, delete=False)


def _place(ctx: StepContext) -> StepResult:
    """Move the copy to the requested node of the target cluster if PVE put it elsewhere
    (a migration within that cluster, followed there)."""
    if _method(ctx) != CLUSTER:
        return StepResult.skipped("a backup export")
    wanted, vmid = ctx.params["target_node"], ctx.results["target_vmid"]
    entry = _copy_entry(ctx)
    if entry is None:
        return StepResult.failed(f"the copy {vmid} is no longer on the target cluster")
    if entry.node == wanted:
        return StepResult.done(f"the copy is on {wanted}", target_node=wanted)
    running = entry.status == "running"
    upid = ctx.gateway_for(ctx.results["target_cluster_id"]).guest_migrate(
        node=entry.node,
        kind=entry.kind,
        vmid=vmid,
        target=wanted,
        online=running,
        with_local_disks=running,
    )
    return StepResult.started(
        upid,
        f"moving the copy from {entry.node} to {wanted}",
        on_cluster=ctx.results["target_cluster_id"],
    )


def _placed(ctx: StepContext) -> StepResult:
    wanted, entry = ctx.params["target_node"], _copy_entry(ctx)
    if entry is not None and entry.node == wanted:
        if entry.lock:
            return StepResult.retry(f"the copy is still locked on {wanted}", after=5)
        return StepResult.done(f"the copy is on {wanted}", target_node=wanted)
    return StepResult.failed(f"the copy is not on {wanted} after its migration")


def _copy_sync(ctx: StepContext) -> StepResult:
    """Refresh the source's cluster (its guest is stopped and locked now) and the
    target's until it shows the copy; the copy's row id is remembered."""
    if _method(ctx) != CLUSTER:
        return StepResult.skipped("a backup export")
    if (problem := refresh(ctx.request.vm.cluster_id)) is not None:
        return problem
    return sync_new_guest(
        ctx, cluster_id=ctx.results["target_cluster_id"], vmid=ctx.results["target_vmid"]
    )


def _copy_own(ctx: StepContext) -> StepResult:
    """Atomic: the requester owns the copy until its availability ends, in the source's
    team, and the copy carries the source's classification."""
    if _method(ctx) != CLUSTER:
        return StepResult.skipped("a backup export")
    request, source = ctx.request, ctx.request.vm
    copy = VirtualMachine.objects.get(pk=ctx.results["vm_id"])
    expires = _expires(ctx)
    if Ownership.objects.filter(vm_id=copy.pk).exists():
        return StepResult.skipped(f"{copy} already has an owner", expires_at=expires.isoformat())
    current = Ownership.objects.filter(vm_id=source.pk, until__isnull=True).first()
    ownership_at_birth(
        vm=copy,
        requester=request.requester,
        team=(current.team if current else None) or request.team,
        lease_end=timezone.localdate(expires),
        reason=f"export copy of {source.name or source.vmid} by request #{request.pk}, "
        f"available until {expires:%Y-%m-%d %H:%M}",
    )
    if source.classification:
        classification_set(
            actor=request.requester,
            vm=copy,
            classification=source.classification,
            reason=f"travels with the export of {source.name or source.vmid} "
            f"(request #{request.pk})",
        )
    return StepResult.done(
        f"{request.requester} owns the export copy {copy}", expires_at=expires.isoformat()
    )


# Both ------------------------------------------------------------------------------------


def _ledger(ctx: StepContext) -> StepResult:
    """Atomic: open the export copy row and remember when it expires (and, for a cluster
    copy, where the copy is, which is what the expiry acts on)."""
    vm = ctx.request.vm
    now, expires = timezone.now(), _expires(ctx)
    if _method(ctx) == CLUSTER:
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


def _source_vmid(ctx: StepContext) -> int | None:
    return ctx.request.vm.vmid if ctx.request.vm else None


kind(
    "export",
    StepSpec("backup", "Back up to the export storage", _backup, task_types=("vzdump",)),
    StepSpec("archive", "Find the archive", _archive),
    StepSpec("copy_reserve", "Reserve a vmid on the target cluster", _copy_reserve),
    StepSpec(
        "copy",
        "Copy to the other cluster",
        _copy,
        verify=remote_arrived,
        task_types=("qmigrate", "vzmigrate"),
        task_vmid=_source_vmid,
    ),
    StepSpec(
        "copy_place",
        "Place the copy on the target node",
        _place,
        verify=_placed,
        task_types=("qmigrate", "vzmigrate"),
        task_vmid=lambda ctx: ctx.results.get("target_vmid"),
        task_cluster=lambda ctx: ctx.results.get("target_cluster_id"),
    ),
    StepSpec("copy_sync", "Refresh both clusters", _copy_sync),
    StepSpec("copy_own", "Give the copy its owner", _copy_own, atomic=True),
    StepSpec(LEDGER_STEP, "Record the export", _ledger, atomic=True),
)
