"""import: bring an external disk image (an OVA/OVF disk, a qcow2/vmdk on an import
storage) in as a new VM on approved storage, quarantined and owned from birth.

Parameters (``ImportForm``): ``source_volume`` (volid on the import storage), ``name``,
``node``, ``storage`` (approved class), ``team``, ``classification``. A guest of another
registered (unmanaged) cluster comes in instead with ``source_cluster`` (name) and
``source_vmid``: PVE's ``remote_migrate`` copies it onto ``storage`` here (the source is
kept; deleting it is its own admins' decision).
Steps: reserve a vmid; create the guest with ``import-from`` (PVE copies the image onto
the approved storage; the source stays) or copy it over from the other cluster; refresh
the inventory; record the owner; quarantine it (policy's ``quarantine_apply``: the guest
is isolated before anyone starts it).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.execution.kinds.common import (
    cluster_by_name,
    guest_settled,
    own_new_guest,
    reserve_vmid,
    sync_new_guest,
    vm_create,
)
from inventory.models import VirtualMachine
from inventory.proxmox.provisioning import import_disk_option
from inventory.services.clusters import cluster_endpoint
from policy.models import Quarantine
from policy.services.quarantine import quarantine_apply

#: The size an image import starts with (team quotas count it from submission).
IMPORT_CORES = 2
IMPORT_MEMORY_MIB = 2048
#: The receiving side of a remote migration (PVE's ``mtunnel`` worker).
TUNNEL_TASKS = ("qmtunnel", "vztunnel")


def _remote(ctx: StepContext) -> bool:
    return bool(ctx.params.get("source_cluster"))


def _create(ctx: StepContext) -> StepResult:
    if _remote(ctx):
        return StepResult.skipped("copied over from another cluster")
    params = ctx.params
    return vm_create(
        ctx,
        disk=import_disk_option(storage=params["storage"], source=params["source_volume"]),
        message=f"importing {params['source_volume']} onto {params['storage']}",
        cores=IMPORT_CORES,
        memory=IMPORT_MEMORY_MIB,
    )


def _settled(ctx: StepContext) -> StepResult:
    return guest_settled(ctx, node=ctx.params["node"], kind="qemu", vmid=ctx.results["vmid"])


def _arrived(ctx: StepContext) -> StepResult | None:
    """Whether the copy is here: done once unlocked, a wait while it is still arriving,
    None when nothing of it is here yet."""
    vmid = ctx.results["vmid"]
    entry = next((g for g in ctx.gateway.resources().guests if g.vmid == vmid), None)
    if entry is None:
        return None
    if entry.lock:
        return StepResult.retry(f"guest {vmid} is still arriving", after=5)
    return StepResult.done(f"guest {vmid} arrived on {entry.node}")


def _copy_in(ctx: StepContext) -> StepResult:
    """Start the copy on the source cluster. Level-triggered: a copy that already arrived
    (or is arriving) is not started again, and a second start while the first runs is
    refused by the source guest's migrate lock."""
    if not _remote(ctx):
        return StepResult.skipped("imported from an image")
    if (here := _arrived(ctx)) is not None:
        return StepResult.done("the copy is under way") if here.kind == "retry" else here
    source = cluster_by_name(ctx.params["source_cluster"])
    source_gw = ctx.gateway_for(source.pk)
    vmid = int(ctx.params["source_vmid"])
    guest = next((g for g in source_gw.resources().guests if g.vmid == vmid), None)
    if guest is None:
        return StepResult.failed(f"guest {vmid} does not exist on {source.name}")
    upid = source_gw.guest_remote_migrate(
        node=guest.node,
        kind=guest.kind,
        vmid=vmid,
        target=cluster_endpoint(ctx.request.cluster),
        target_vmid=ctx.results["vmid"],
        target_storage=ctx.params["storage"],
        target_bridge="1",
    )
    return StepResult.done(f"copying guest {vmid} over from {source.name}", source_upid=upid)


def _tunnel(ctx: StepContext) -> StepResult:
    """Follow the copy through its receiving task here (``qmtunnel``), which the engine
    can poll on this cluster; the source's task lives on the other one."""
    if not _remote(ctx):
        return StepResult.skipped("imported from an image")
    vmid = str(ctx.results["vmid"])
    for task in ctx.gateway.tasks():
        if task.type in TUNNEL_TASKS and task.id == vmid:
            return StepResult.started(task.upid, f"receiving guest {vmid}")
    return _arrived(ctx) or StepResult.retry("the copy has not reached this cluster yet", after=2)


def _copied(ctx: StepContext) -> StepResult:
    return _arrived(ctx) or StepResult.failed("the copy ended but the guest is not here")


def _sync(ctx: StepContext) -> StepResult:
    return sync_new_guest(ctx, cluster_id=ctx.request.cluster_id, vmid=ctx.results["vmid"])


def _quarantine(ctx: StepContext) -> StepResult:
    vm = VirtualMachine.objects.get(pk=ctx.results["vm_id"])
    if Quarantine.objects.filter(vm=vm, lifted_at__isnull=True).exists():
        return StepResult.skipped(f"{vm} is already quarantined")
    try:
        quarantine_apply(
            vm=vm,
            reason=f"imported by request #{ctx.request.pk}; lift after review",
            actor=None,
        )
    except ValidationError as exc:
        return StepResult.retry("; ".join(exc.messages), after=15)
    return StepResult.done(f"{vm} quarantined until reviewed")


kind(
    "import",
    StepSpec("reserve", "Reserve a vmid", reserve_vmid),
    StepSpec(
        "create",
        "Create the VM from the image",
        _create,
        verify=_settled,
        task_types=("qmcreate",),
        task_vmid=lambda ctx: ctx.results.get("vmid"),
    ),
    StepSpec("copy_in", "Start copying the guest from the other cluster", _copy_in),
    StepSpec(
        "receive",
        "Receive the guest",
        _tunnel,
        verify=_copied,
        task_types=TUNNEL_TASKS,
        task_vmid=lambda ctx: ctx.results.get("vmid"),
    ),
    StepSpec("sync", "Refresh the inventory", _sync),
    StepSpec("own", "Record the owner", own_new_guest, atomic=True),
    StepSpec("quarantine", "Quarantine the new VM", _quarantine, atomic=True),
)
