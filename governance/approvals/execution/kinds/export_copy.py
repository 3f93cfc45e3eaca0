"""The export kind's copy to another cluster (``method`` ``cluster``; see
``governance.approvals.execution.kinds.export`` for the whole kind): reserve a vmid on the
target cluster and one for a temporary full clone of the VM on its own cluster, clone
(the VM keeps running and is never locked), move the stopped clone to the target cluster
with PVE's remote migration and ``delete`` (nothing of it stays on the source cluster),
place the copy on the requested node, refresh both clusters, give the copy its owner.

Each step is level-triggered or adopts the task a crashed worker started (``qmclone`` on
the source's vmid, ``qmigrate`` on the clone's), so nothing is cloned or moved twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from governance.approvals.execution.base import ResultKind, StepContext, StepResult, StepSpec
from governance.approvals.execution.kinds.common import (
    UNLOCK_RETRY,
    guest_settled,
    refresh,
    remote_arrived,
    remote_migrate_start,
    sync_new_guest,
    target_vmid_reserve,
)
from governance.ownership.models import Ownership
from governance.ownership.services import classification_set, ownership_at_birth
from inventory.models import GuestDisk, Storage, VirtualMachine
from inventory.models.clusters import StorageClass
from inventory.proxmox.types import GuestEntry

BACKUP = "backup"
CLUSTER = "cluster"


def export_method(ctx: StepContext) -> str:
    return ctx.params.get("method") or BACKUP


def export_expires(ctx: StepContext) -> datetime:
    """When the export's availability ends: fixed by the first step that asks."""
    if at := ctx.results.get("expires_at"):
        return datetime.fromisoformat(at)
    return timezone.now() + timedelta(days=int(ctx.params.get("available_days", 7)))


def _copy_reserve(ctx: StepContext) -> StepResult:
    if export_method(ctx) != CLUSTER:
        return StepResult.skipped("a backup export")
    return target_vmid_reserve(ctx)


def clone_name(request_id: int, vmid: int) -> str:
    """The temporary clone's name: recognisably this export's."""
    return f"export-{request_id}-{vmid}"


def clone_storage_for(vm: VirtualMachine) -> str | None:
    """Where the temporary full clone goes: the approved storage all of the VM's disks are
    on, else the first approved storage (by name) available on its node that holds guest
    disks; None when the cluster has none."""
    approved = Storage.objects.filter(
        cluster_id=vm.cluster_id, gone_since__isnull=True, storage_class=StorageClass.APPROVED
    )
    used = set(
        GuestDisk.objects.filter(vm=vm, is_cdrom=False)
        .exclude(storage_name="")
        .values_list("storage_name", flat=True)
    )
    if len(used) == 1 and approved.filter(name__in=used).exists():
        return used.pop()
    content = "images" if vm.kind == "qemu" else "rootdir"
    on_node = approved.filter(
        node_statuses__node_id=vm.node_id, node_statuses__status="available"
    ).order_by("name")
    return next((s.name for s in on_node if content in (s.content or [])), None)


def _clone_target(ctx: StepContext) -> dict[str, Any]:
    """Gateway kwargs of the temporary clone (made on the source's node)."""
    source = ctx.vm_target()
    return {**source, "vmid": ctx.results["clone_vmid"]}


def _clone_reserve(ctx: StepContext) -> StepResult:
    if export_method(ctx) != CLUSTER:
        return StepResult.skipped("a backup export")
    if "clone_vmid" in ctx.results:
        return StepResult.skipped(f"vmid {ctx.results['clone_vmid']} already reserved")
    vmid = ctx.gateway.next_vmid()
    name = clone_name(ctx.request.pk, ctx.request.vm.vmid)
    return StepResult.done(f"the temporary clone {name} gets vmid {vmid}", clone_vmid=vmid)


def _clone_entry(ctx: StepContext) -> GuestEntry | None:
    vmid = ctx.results["clone_vmid"]
    return next((g for g in ctx.gateway.resources().guests if g.vmid == vmid), None)


def _clone(ctx: StepContext) -> StepResult:
    """Full-clone the VM on its own cluster (running or not); level-triggered: a clone
    already there under our name is not made again."""
    if export_method(ctx) != CLUSTER:
        return StepResult.skipped("a backup export")
    name = clone_name(ctx.request.pk, ctx.request.vm.vmid)
    if (entry := _clone_entry(ctx)) is not None:
        if entry.name != name:
            return StepResult.failed(
                f"vmid {entry.vmid} was taken by another guest ({entry.name}) after it was "
                "reserved; cancel this request and submit it again"
            )
        return _cloned(ctx)
    storage = ctx.params.get("clone_storage") or clone_storage_for(ctx.request.vm)
    if not storage:
        return StepResult.failed(
            f"cluster {ctx.request.vm.cluster} has no approved storage on "
            f"{ctx.vm_target()['node']} for the temporary clone; an admin classifies one "
            "as approved, then retries"
        )
    source = ctx.vm_target()
    upid = ctx.gateway.guest_clone(
        **source,
        newid=ctx.results["clone_vmid"],
        name=name,
        target=source["node"],
        full=True,
        storage=storage,
        description=f"Steward: temporary clone for export request #{ctx.request.pk}",
    )
    return StepResult.started(upid, f"full-cloning {ctx.request.vm} as {name} onto {storage}")


def _cloned(ctx: StepContext) -> StepResult:
    return guest_settled(ctx, **_clone_target(ctx))


def _copy_entry(ctx: StepContext) -> GuestEntry | None:
    target_gw = ctx.gateway_for(ctx.results["target_cluster_id"])
    return next(
        (g for g in target_gw.resources().guests if g.vmid == ctx.results["target_vmid"]), None
    )


def _copy(ctx: StepContext) -> StepResult:
    """Move the (stopped) temporary clone to the target cluster, deleting it here."""
    if export_method(ctx) != CLUSTER:
        return StepResult.skipped("a backup export")
    if _copy_entry(ctx) is not None:
        # A re-run after the move was started: done once the copy is unlocked there.
        return _moved(ctx)
    if (clone := _clone_entry(ctx)) is None:
        return StepResult.failed(
            f"the temporary clone {ctx.results['clone_vmid']} is not on the source cluster "
            "any more and no copy is on the target; cancel this request and submit it again"
        )
    # Where Proxmox lists the clone now (HA may have moved the VM's node meanwhile).
    guest = {"node": clone.node, "kind": clone.kind, "vmid": clone.vmid}
    return remote_migrate_start(ctx, online=False, delete=True, guest=guest)


def _moved(ctx: StepContext) -> StepResult:
    """``verify`` of the move: the copy is on the target, unlocked, and the temporary
    clone left the source cluster (PVE deletes it at the end of the task)."""
    arrived = remote_arrived(ctx)
    if arrived.kind != ResultKind.DONE:
        return arrived
    if _clone_entry(ctx) is not None:
        return StepResult.retry(
            f"the temporary clone {ctx.results['clone_vmid']} is still on the source cluster",
            after=UNLOCK_RETRY,
        )
    return arrived


def _place(ctx: StepContext) -> StepResult:
    """Move the copy to the requested node of the target cluster if PVE put it elsewhere
    (a migration within that cluster, followed there)."""
    if export_method(ctx) != CLUSTER:
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
    """Refresh the source's cluster (the temporary clone has left it) and the target's
    until it shows the copy; the copy's row id is remembered."""
    if export_method(ctx) != CLUSTER:
        return StepResult.skipped("a backup export")
    if (problem := refresh(ctx.request.vm.cluster_id)) is not None:
        return problem
    return sync_new_guest(
        ctx, cluster_id=ctx.results["target_cluster_id"], vmid=ctx.results["target_vmid"]
    )


def _copy_own(ctx: StepContext) -> StepResult:
    """Atomic: the requester owns the copy until its availability ends, in the source's
    team, and the copy carries the source's classification."""
    if export_method(ctx) != CLUSTER:
        return StepResult.skipped("a backup export")
    request, source = ctx.request, ctx.request.vm
    copy = VirtualMachine.objects.get(pk=ctx.results["vm_id"])
    expires = export_expires(ctx)
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


def _source_vmid(ctx: StepContext) -> int | None:
    return ctx.request.vm.vmid if ctx.request.vm else None


#: The steps of a copy to another cluster, in order (skipped for a backup export).
COPY_STEPS = (
    StepSpec("copy_reserve", "Reserve a vmid on the target cluster", _copy_reserve),
    StepSpec("clone_reserve", "Reserve a vmid for the temporary clone", _clone_reserve),
    StepSpec(
        "clone",
        "Full-clone the VM on its cluster",
        _clone,
        verify=_cloned,
        task_types=("qmclone", "vzclone"),
        task_vmid=_source_vmid,
    ),
    StepSpec(
        "copy",
        "Move the clone to the other cluster",
        _copy,
        verify=_moved,
        task_types=("qmigrate", "vzmigrate"),
        task_vmid=lambda ctx: ctx.results.get("clone_vmid"),
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
)
