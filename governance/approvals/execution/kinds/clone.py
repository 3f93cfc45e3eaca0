"""clone: a copy of the request's VM as a new guest on an allowed node, owned by the
requester from birth.

Parameters (``CloneForm``): ``name``, ``target_node``, ``full``, ``template``; optional
``storage``. Steps: reserve a vmid, clone, convert the clone into a template when asked
(``template``; ``clone_check`` refused it at submission when a copy-limits policy forbids
templates of the source), refresh the inventory (the sync records the lineage and the
copy), record the owner (the requester, in the source guest's team).
"""

from __future__ import annotations

from typing import Any

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


def _new_guest(ctx: StepContext) -> dict[str, Any]:
    """Gateway kwargs of the clone."""
    return {
        "node": ctx.params["target_node"],
        "kind": ctx.request.vm.kind,
        "vmid": ctx.results["vmid"],
    }


def _settled(ctx: StepContext) -> StepResult:
    return guest_settled(ctx, **_new_guest(ctx))


def _is_template(ctx: StepContext) -> bool:
    config = ctx.gateway.guest_config(**_new_guest(ctx))
    return str(config.values.get("template", "")) == "1"


def _template(ctx: StepContext) -> StepResult:
    """Convert the fresh (stopped) clone; level-triggered, so a re-run converts once."""
    if not ctx.params.get("template"):
        return StepResult.skipped("the clone stays a guest")
    if _is_template(ctx):
        return StepResult.skipped("the clone is a template already")
    upid = ctx.gateway.guest_template(**_new_guest(ctx))
    if not upid:  # LXC converts synchronously
        return StepResult.done(f"{ctx.params['name']} is a template")
    return StepResult.started(upid, f"converting {ctx.params['name']} into a template")


def _templated(ctx: StepContext) -> StepResult:
    if _is_template(ctx):
        return StepResult.done(f"Proxmox shows {ctx.params['name']} as a template")
    return StepResult.failed(f"{ctx.params['name']} is not a template after the conversion")


def _sync(ctx: StepContext) -> StepResult:
    return sync_new_guest(ctx, cluster_id=ctx.request.vm.cluster_id, vmid=ctx.results["vmid"])


kind(
    "clone",
    StepSpec("reserve", "Reserve a vmid", reserve_vmid),
    StepSpec("clone", "Clone", _clone, verify=_settled, task_types=("qmclone", "vzclone")),
    StepSpec(
        "template",
        "Make the clone a template",
        _template,
        verify=_templated,
        task_types=("qmtemplate",),
        task_vmid=lambda ctx: ctx.results.get("vmid"),
    ),
    StepSpec("sync", "Refresh the inventory", _sync),
    StepSpec("own", "Record the owner", own_new_guest, atomic=True),
)
