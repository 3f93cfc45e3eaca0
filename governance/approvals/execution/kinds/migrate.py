"""migrate: move a VM to another node of its cluster, or to another registered cluster.

Parameters (``MigrateForm``): ``target_node``, ``online``; for a cross-cluster move also
``target_cluster`` (name), ``target_storage`` and ``target_bridge`` (PVE id maps).

Node move: precheck (PVE's precondition read: the node must be allowed now), migrate,
verify the guest answers on the target node, refresh the inventory (which closes the old
residency and opens the new one) and stamp the request on it. A failed or aborted task
(target node down) leaves the guest where it was; the sync then shows it there, so the
ledgers never claim a move that did not happen.

Cross-cluster move: reserve a vmid on the target, ``remote_migrate`` (source deleted on
success), refresh both clusters, and carry the owner over to the guest's new row.
"""

from __future__ import annotations

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.execution.kinds.common import (
    refresh,
    refresh_until_gone,
    remote_arrived,
    remote_migrate_start,
    stamp_residency,
    sync_new_guest,
    target_vmid_reserve,
)
from governance.ownership.models import Ownership
from governance.ownership.services import ownership_at_birth
from inventory.models import VirtualMachine
from inventory.proxmox import ProxmoxNotFound


def _remote(ctx: StepContext) -> bool:
    return bool(ctx.params.get("target_cluster"))


def _on_target(ctx: StepContext) -> bool:
    """Whether Proxmox shows the guest on the target node already (a re-run, or an
    admin moved it)."""
    target = ctx.vm_target()
    try:
        ctx.gateway.guest_status(
            node=ctx.params["target_node"], kind=target["kind"], vmid=target["vmid"]
        )
    except ProxmoxNotFound:
        return False
    return True


def _precheck(ctx: StepContext) -> StepResult:
    if _remote(ctx):
        return StepResult.skipped("a cross-cluster move has no node precondition")
    target_node = ctx.params["target_node"]
    if _on_target(ctx):
        return StepResult.skipped(f"the guest already runs on {target_node}")
    check = ctx.gateway.guest_migrate_check(**ctx.vm_target())
    if target_node not in check.allowed_nodes:
        why = ", ".join(check.blocked.get(target_node, ())) or "not offered by Proxmox"
        return StepResult.failed(f"Proxmox does not allow a move to {target_node} now: {why}")
    return StepResult.done(f"{target_node} is allowed", with_local_disks=bool(check.local_disks))


def _migrate(ctx: StepContext) -> StepResult:
    if _remote(ctx):
        return StepResult.skipped("moved by the cross-cluster steps")
    if _on_target(ctx):
        return StepResult.skipped(f"the guest already runs on {ctx.params['target_node']}")
    upid = ctx.gateway.guest_migrate(
        **ctx.vm_target(),
        target=ctx.params["target_node"],
        online=bool(ctx.params.get("online")),
        with_local_disks=bool(ctx.results.get("with_local_disks")),
    )
    return StepResult.started(upid, f"migrating to {ctx.params['target_node']}")


def _verify_node(ctx: StepContext) -> StepResult:
    if _on_target(ctx):
        return StepResult.done(f"the guest answers on {ctx.params['target_node']}")
    return StepResult.failed(f"the guest is not on {ctx.params['target_node']} after the task")


def _sync(ctx: StepContext) -> StepResult:
    if _remote(ctx):
        return StepResult.skipped("refreshed by the cross-cluster steps")
    vm = ctx.request.vm
    if (problem := refresh(vm.cluster_id)) is not None:
        return problem
    vm = VirtualMachine.objects.select_related("node").get(pk=vm.pk)
    if vm.node is None or vm.node.name != ctx.params["target_node"]:
        return StepResult.retry("the inventory does not show the move yet", after=5)
    stamp_residency(vm=vm, request=ctx.request)
    return StepResult.done(f"the inventory shows the guest on {vm.node.name}")


# Cross-cluster -------------------------------------------------------------------------


def _remote_reserve(ctx: StepContext) -> StepResult:
    if not _remote(ctx):
        return StepResult.skipped("a move within the cluster")
    return target_vmid_reserve(ctx)


def _remote_migrate(ctx: StepContext) -> StepResult:
    if not _remote(ctx):
        return StepResult.skipped("a move within the cluster")
    return remote_migrate_start(ctx, online=bool(ctx.params.get("online")), delete=True)


def _remote_sync(ctx: StepContext) -> StepResult:
    """Refresh the source cluster until the guest's old row is gone (its residency closed),
    then the target: the inventory never lists the guest on both clusters. The new row
    is remembered for the owner step; the old row keeps its ledgers."""
    if not _remote(ctx):
        return StepResult.skipped("a move within the cluster")
    old = ctx.request.vm
    gone = refresh_until_gone(
        cluster_id=old.cluster_id, vm_id=old.pk, what=f"guest {old.vmid} on its old cluster"
    )
    if gone is not None:
        return gone
    return sync_new_guest(
        ctx, cluster_id=ctx.results["target_cluster_id"], vmid=ctx.results["target_vmid"]
    )


def _remote_own(ctx: StepContext) -> StepResult:
    if not _remote(ctx):
        return StepResult.skipped("a move within the cluster")
    new = VirtualMachine.objects.get(pk=ctx.results["vm_id"])
    if Ownership.objects.filter(vm_id=new.pk).exists():
        return StepResult.skipped(f"{new} already has an owner")
    old = Ownership.objects.filter(vm_id=ctx.request.vm_id, until__isnull=True).first()
    if old is None or old.owner is None:
        return StepResult.skipped("the source guest had no owner to carry over")
    ownership_at_birth(
        vm=new,
        requester=old.owner,
        team=old.team,
        custodian=old.custodian,
        lease_end=old.lease_end,
        reason=f"moved from another cluster by request #{ctx.request.pk}",
    )
    return StepResult.done(f"{old.owner} owns the moved guest")


def _remote_vmid(ctx: StepContext) -> int | None:
    return ctx.request.vm.vmid if ctx.request.vm else None


kind(
    "migrate",
    StepSpec("precheck", "Check that the target node is allowed", _precheck),
    StepSpec(
        "migrate",
        "Migrate",
        _migrate,
        verify=_verify_node,
        task_types=("qmigrate", "vzmigrate"),
        # A stopped migration leaves the guest running on its source node.
        abortable=True,
    ),
    StepSpec("sync", "Refresh the inventory and ledgers", _sync),
    StepSpec("remote_reserve", "Reserve a vmid on the target cluster", _remote_reserve),
    StepSpec(
        "remote_migrate",
        "Move to the other cluster",
        _remote_migrate,
        verify=remote_arrived,
        task_types=("qmigrate", "vzmigrate"),
        task_vmid=_remote_vmid,
    ),
    StepSpec("remote_sync", "Refresh both clusters", _remote_sync),
    StepSpec("remote_own", "Carry the owner over", _remote_own, atomic=True),
)
