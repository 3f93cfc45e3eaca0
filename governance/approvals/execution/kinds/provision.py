"""provision: a new VM from a template (clone) or from scratch, on the approved node and
storage, owned by its requester from birth.

Parameters (``ProvisionForm``): ``source`` clone|scratch, ``template`` (VM id, for clone),
``node``, ``storage``, ``name``, ``cores``, ``memory_mib``, ``disk_gib``, ``team``,
``classification``, ``lease_end``.

Steps: reserve a vmid; clone the template onto the node and storage, or create the guest
there; set its size (clone); refresh the inventory; record the owner.

Size: the new guest gets ``cores`` and ``memory_mib`` either way. Its disks are one disk of
``disk_gib`` from scratch; from a template they are the template's disks as they are (a
full clone; ``disk_gib`` is not used). ``services.chains.request_footprint`` judges the
auto-approval thresholds by exactly this size.
"""

from __future__ import annotations

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.execution.kinds.common import (
    guest_settled,
    own_new_guest,
    reserve_vmid,
    sync_new_guest,
    vm_create,
    vmid_taken,
)
from inventory.models import VirtualMachine
from inventory.proxmox import ProxmoxError


def _is_clone(ctx: StepContext) -> bool:
    return ctx.params.get("source") == "clone" and bool(ctx.params.get("template"))


def _template(ctx: StepContext) -> VirtualMachine:
    return VirtualMachine.objects.select_related("node").get(pk=ctx.params["template"])


def _clone(ctx: StepContext) -> StepResult:
    if not _is_clone(ctx):
        return StepResult.skipped("created from scratch, not cloned")
    template = _template(ctx)
    if template.node is None or template.gone_since is not None:
        return StepResult.failed(f"the template {template} no longer exists")
    try:
        upid = ctx.gateway.guest_clone(
            node=template.node.name,
            kind=template.kind,
            vmid=template.vmid,
            newid=ctx.results["vmid"],
            name=ctx.params["name"],
            target=ctx.params["node"],
            full=True,
            storage=ctx.params.get("storage", ""),
        )
    except ProxmoxError as exc:
        return vmid_taken(
            ctx, exc, node=ctx.params["node"], kind=template.kind, name=ctx.params["name"]
        )
    return StepResult.started(upid, f"cloning {template} as {ctx.params['name']}")


def _create(ctx: StepContext) -> StepResult:
    if _is_clone(ctx):
        return StepResult.skipped("cloned from a template")
    params = ctx.params
    return vm_create(
        ctx,
        disk=f"{params['storage']}:{int(params['disk_gib'])}",
        message=f"creating {params['name']} on {params['node']}",
        cores=int(params["cores"]),
        memory=int(params["memory_mib"]),
        ostype="l26",
    )


def _new_guest_settled(ctx: StepContext) -> StepResult:
    kind_ = _template(ctx).kind if _is_clone(ctx) else "qemu"
    return guest_settled(ctx, node=ctx.params["node"], kind=kind_, vmid=ctx.results["vmid"])


def _size(ctx: StepContext) -> StepResult:
    """Give a clone the requested CPU and memory (a template's own size is a default);
    a container's ``memory`` is in MiB like a VM's."""
    if not _is_clone(ctx):
        return StepResult.skipped("created with its size")
    target = {"node": ctx.params["node"], "kind": _template(ctx).kind, "vmid": ctx.results["vmid"]}
    config = ctx.gateway.guest_config(**target)
    wanted = {
        "cores": str(int(ctx.params["cores"])),
        "memory": str(int(ctx.params["memory_mib"])),
    }
    changes = {k: v for k, v in wanted.items() if str(config.values.get(k, "")) != v}
    if not changes:
        return StepResult.skipped("the clone already has the requested size")
    ctx.gateway.guest_config_update(**target, digest=config.digest, values=changes)
    return StepResult.done(f"set {', '.join(f'{k}={v}' for k, v in changes.items())}")


def _sync(ctx: StepContext) -> StepResult:
    return sync_new_guest(ctx, cluster_id=ctx.request.cluster_id, vmid=ctx.results["vmid"])


def _clone_source_vmid(ctx: StepContext) -> int | None:
    return _template(ctx).vmid if _is_clone(ctx) else None


kind(
    "provision",
    StepSpec("reserve", "Reserve a vmid", reserve_vmid),
    StepSpec(
        "clone",
        "Clone the template",
        _clone,
        verify=_new_guest_settled,
        task_types=("qmclone", "vzclone"),
        task_vmid=_clone_source_vmid,
    ),
    StepSpec(
        "create",
        "Create the VM",
        _create,
        verify=_new_guest_settled,
        task_types=("qmcreate",),
        task_vmid=lambda ctx: ctx.results.get("vmid"),
    ),
    StepSpec("size", "Set CPU and memory", _size),
    StepSpec("sync", "Refresh the inventory", _sync),
    StepSpec("own", "Record the owner", own_new_guest, atomic=True),
)
