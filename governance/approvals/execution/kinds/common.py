"""Steps and helpers several kinds share: reserving a vmid, waiting for a guest to be
unlocked, copying a guest to another cluster, refreshing the inventory and stamping the
ledgers with the approving request, and giving a new guest its owner.

Every helper here is level-triggered (it reads Proxmox or the database first and does
nothing when the wanted state already holds), so the engine may run it again after a
crash without doing anything twice.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth import get_user_model

from governance.accounts.models import Team
from governance.approvals.execution.base import StepContext, StepResult
from governance.approvals.models import Request
from governance.ownership.models import Ownership
from governance.ownership.services import classification_set, ownership_at_birth
from inventory.models import Cluster, Node, Residency, SyncRunStatus, VirtualMachine
from inventory.proxmox import ProxmoxError, ProxmoxNotFound
from inventory.services.clusters import cluster_endpoint
from inventory.sync.service import cluster_sync

#: The bridge a new guest's first NIC joins; network placement is an admin's later change.
DEFAULT_BRIDGE = "vmbr0"
#: Seconds between looks at a guest still locked by its task's tail.
UNLOCK_RETRY = 5.0


def node_named(cluster_id: int, name: str) -> Node:
    return Node.objects.get(cluster_id=cluster_id, name=name)


def live_vm(cluster_id: int, vmid: int) -> VirtualMachine | None:
    return VirtualMachine.objects.filter(
        cluster_id=cluster_id, vmid=vmid, gone_since__isnull=True
    ).first()


def cluster_of(ctx: StepContext) -> int:
    """The cluster the request acts on (its own, or its VM's)."""
    return ctx.cluster_id


def reserve_vmid(ctx: StepContext) -> StepResult:
    """Pick the new guest's vmid once; a re-run keeps the one already remembered."""
    if "vmid" in ctx.results:
        return StepResult.skipped(f"vmid {ctx.results['vmid']} already reserved")
    vmid = ctx.gateway.next_vmid()
    return StepResult.done(f"the new guest gets vmid {vmid}", vmid=vmid)


def guest_settled(ctx: StepContext, *, node: str, kind: str, vmid: int) -> StepResult:
    """``verify`` of a task that made a guest: it exists on ``node`` and is unlocked."""
    try:
        config = ctx.gateway.guest_config(node=node, kind=kind, vmid=vmid)
    except ProxmoxNotFound:
        return StepResult.failed(f"guest {vmid} is not on node {node} after its task ended")
    if config.values.get("lock"):
        return StepResult.retry(f"guest {vmid} is still locked", after=UNLOCK_RETRY)
    return StepResult.done(f"guest {vmid} is on {node}")


def vmid_taken(
    ctx: StepContext, error: ProxmoxError, *, node: str, kind: str, name: str
) -> StepResult:
    """What to make of a create or clone refused because the reserved vmid exists.

    Ours (same name on the wanted node: an earlier attempt whose UPID was lost) counts
    as made once it is unlocked; anything else took the vmid between the reservation and
    the call (PVE reserves nothing), which a new request resolves."""
    if "already exists" not in str(error):
        raise error
    vmid = ctx.results["vmid"]
    try:
        config = ctx.gateway.guest_config(node=node, kind=kind, vmid=vmid)
    except ProxmoxNotFound:
        config = None
    if config is not None and name in (config.values.get("name"), config.values.get("hostname")):
        return guest_settled(ctx, node=node, kind=kind, vmid=vmid)
    return StepResult.failed(
        f"vmid {vmid} was taken by another guest after it was reserved; "
        "cancel this request and submit it again"
    )


def vm_create(ctx: StepContext, *, disk: str, message: str, **config: str | int) -> StepResult:
    """Start creating the request's new qemu guest (``name`` on ``node`` from the
    parameters) with one ``scsi0`` disk; ``config`` adds cores, memory and the like."""
    node, name = ctx.params["node"], ctx.params["name"]
    values = {
        "name": name,
        **config,
        "scsihw": "virtio-scsi-single",
        "scsi0": disk,
        "net0": f"virtio,bridge={DEFAULT_BRIDGE}",
    }
    try:
        upid = ctx.gateway.guest_create(
            node=node, kind="qemu", vmid=ctx.results["vmid"], values=values
        )
    except ProxmoxError as exc:
        return vmid_taken(ctx, exc, node=node, kind="qemu", name=name)
    return StepResult.started(upid, message)


# Another cluster (``target_cluster`` names it) ---------------------------------------


def target_vmid_reserve(ctx: StepContext) -> StepResult:
    """Pick the guest's vmid on ``target_cluster`` once (``target_vmid``,
    ``target_cluster_id``); a re-run keeps the one already remembered."""
    if "target_vmid" in ctx.results:
        return StepResult.skipped(f"vmid {ctx.results['target_vmid']} already reserved")
    target = cluster_by_name(ctx.params["target_cluster"])
    vmid = ctx.gateway_for(target.pk).next_vmid()
    return StepResult.done(
        f"the guest becomes {vmid} on {target.name}", target_vmid=vmid, target_cluster_id=target.pk
    )


def remote_migrate_start(
    ctx: StepContext, *, online: bool, delete: bool, guest: dict[str, Any] | None = None
) -> StepResult:
    """Start PVE's remote migration of the request's VM (or ``guest``: gateway kwargs of
    another guest of its cluster) to ``target_cluster`` under the reserved vmid, disks
    onto ``target_storage``; ``delete`` False keeps the source."""
    target = cluster_by_name(ctx.params["target_cluster"])
    upid = ctx.gateway.guest_remote_migrate(
        **(guest or ctx.vm_target()),
        target=cluster_endpoint(target),
        target_vmid=ctx.results["target_vmid"],
        target_storage=ctx.params.get("target_storage", ""),
        # "1" keeps every bridge name on the target (PVE's identity map for bridges).
        target_bridge=ctx.params.get("target_bridge") or "1",
        online=online,
        delete=delete,
    )
    verb = "moving" if delete else "copying"
    return StepResult.started(upid, f"{verb} to cluster {target.name}")


def remote_arrived(ctx: StepContext) -> StepResult:
    """``verify`` of a remote migration: the guest is on the target cluster, unlocked."""
    target_gw = ctx.gateway_for(ctx.results["target_cluster_id"])
    vmid = ctx.results["target_vmid"]
    entry = next((g for g in target_gw.resources().guests if g.vmid == vmid), None)
    if entry is None:
        return StepResult.failed(f"guest {vmid} is not on the target cluster after the task")
    if entry.lock:
        return StepResult.retry(f"guest {vmid} is still locked on the target", after=UNLOCK_RETRY)
    return StepResult.done(
        f"guest {vmid} is on {entry.node} of the target cluster", target_node=entry.node
    )


def refresh(cluster_id: int) -> StepResult | None:
    """Sync one cluster so the inventory and its ledgers show what the task did; a retry
    result when another sync holds the cluster or this one failed."""
    run = cluster_sync(cluster_id=cluster_id)
    if run is None:
        return StepResult.retry("another inventory sync of the cluster is running", after=5)
    if run.status == SyncRunStatus.FAILED:
        return StepResult.retry(f"the inventory sync failed: {run.error}", after=15)
    return None


def refresh_until_gone(*, cluster_id: int, vm_id: int, what: str) -> StepResult | None:
    """Refresh ``cluster_id`` until its row ``vm_id`` is marked gone (which closes its
    residency); None once it is, a retry result otherwise.

    A guest a migration took away is confirmed gone only by a sync that already knows
    the migration task ended (a sync seeing a new migrate task treats a missing guest
    as possibly in flight), so a second refresh follows the one that stored the task.
    """
    for _ in range(2):
        if not VirtualMachine.objects.filter(pk=vm_id, gone_since__isnull=True).exists():
            return None
        if (problem := refresh(cluster_id)) is not None:
            return problem
    if VirtualMachine.objects.filter(pk=vm_id, gone_since__isnull=True).exists():
        return StepResult.retry(f"the inventory still lists {what}", after=5)
    return None


def stamp_residency(*, vm: VirtualMachine, request: Request) -> None:
    """Record on the guest's open residency that this request allowed it (the field is
    filled once, on the row the move opened; ledgers are otherwise append-only)."""
    Residency.objects.filter(
        vm=vm, ended_at__isnull=True, approving_request_id__isnull=True
    ).update(approving_request_id=request.pk)


def sync_new_guest(ctx: StepContext, *, cluster_id: int, vmid: int) -> StepResult:
    """Refresh the inventory until it shows guest ``vmid``; remembers its row id."""
    if (problem := refresh(cluster_id)) is not None:
        return problem
    vm = live_vm(cluster_id, vmid)
    if vm is None:
        return StepResult.retry(f"the inventory does not show guest {vmid} yet", after=5)
    stamp_residency(vm=vm, request=ctx.request)
    return StepResult.done(f"the inventory shows guest {vmid}", vm_id=vm.pk)


def own_new_guest(ctx: StepContext) -> StepResult:
    """Atomic step: the requester owns the new guest from its first ownership row, with
    the team, lease and classification of the request; the request points at it."""
    request = ctx.request
    vm = VirtualMachine.objects.get(pk=ctx.results["vm_id"])
    if Ownership.objects.filter(vm_id=vm.pk).exists():
        return StepResult.skipped(f"{vm} already has an owner")
    params = ctx.params
    team = Team.objects.filter(pk=params["team"]).first() if params.get("team") else None
    lease = date.fromisoformat(params["lease_end"]) if params.get("lease_end") else None
    ownership_at_birth(
        vm=vm,
        requester=request.requester,
        team=team or request.team,
        lease_end=lease,
        reason=f"created by request #{request.pk}",
    )
    if params.get("classification"):
        classification_set(
            actor=request.requester,
            vm=vm,
            classification=params["classification"],
            reason=f"chosen in request #{request.pk}",
        )
    Request.objects.filter(pk=request.pk, vm__isnull=True).update(vm=vm)
    return StepResult.done(f"{request.requester} owns {vm}")


def user_by_pk(pk: Any) -> Any:
    return get_user_model().objects.get(pk=pk)


def cluster_by_name(name: str) -> Cluster:
    return Cluster.objects.get(name=name)
