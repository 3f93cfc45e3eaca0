"""clone: a copy of the request's VM as a new guest on an allowed node, owned by the
requester from birth.

Parameters (``CloneForm``): ``name``, ``target_node``, ``full``; optional ``storage``.
Steps: reserve a vmid, clone, refresh the inventory (the sync records the lineage and the
copy), record the owner (the requester, in the source guest's team).
"""

from __future__ import annotations

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.execution.kinds.common import (
    guest_settled,
    own_new_guest,
    reserve_vmid,
    sync_new_guest,
    vmid_taken,
)
from inventory.proxmox import ProxmoxError


def _clone(ctx: StepContext) -> StepResult:
    source = ctx.vm_target()
    try:
        upid = ctx.gateway.guest_clone(
            **source,
            newid=ctx.results["vmid"],
            name=ctx.params["name"],
            target=ctx.params["target_node"],
            full=bool(ctx.params.get("full", True)),
            storage=ctx.params.get("storage", ""),
        )
    except ProxmoxError as exc:
        return vmid_taken(
            ctx, exc, node=ctx.params["target_node"], kind=source["kind"], name=ctx.params["name"]
        )
    return StepResult.started(upid, f"cloning {ctx.request.vm} as {ctx.params['name']}")


def _settled(ctx: StepContext) -> StepResult:
    return guest_settled(
        ctx,
        node=ctx.params["target_node"],
        kind=ctx.request.vm.kind,
        vmid=ctx.results["vmid"],
    )


def _sync(ctx: StepContext) -> StepResult:
    return sync_new_guest(ctx, cluster_id=ctx.request.vm.cluster_id, vmid=ctx.results["vmid"])


kind(
    "clone",
    StepSpec("reserve", "Reserve a vmid", reserve_vmid),
    StepSpec("clone", "Clone", _clone, verify=_settled, task_types=("qmclone", "vzclone")),
    StepSpec("sync", "Refresh the inventory", _sync),
    StepSpec("own", "Record the owner", own_new_guest, atomic=True),
)
