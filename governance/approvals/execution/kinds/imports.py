"""import: bring an external disk image (an OVA/OVF disk, a qcow2/vmdk on an import
storage) in as a new VM on approved storage, quarantined and owned from birth.

Parameters (``ImportForm``): ``source_volume`` (volid on the import storage), ``name``,
``node``, ``storage`` (approved class), ``team``, ``classification``.
Steps: reserve a vmid; create the guest with ``import-from`` (PVE copies the image onto
the approved storage; the source stays); refresh the inventory; record the owner;
quarantine it (policy's ``quarantine_apply``: the guest is isolated before anyone starts
it). (A guest on another cluster comes in with ``remote_migrate``, see ``migrate``.)
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.execution.kinds.common import (
    guest_settled,
    own_new_guest,
    reserve_vmid,
    sync_new_guest,
    vmid_taken,
)
from governance.approvals.execution.kinds.provision import DEFAULT_BRIDGE
from inventory.models import VirtualMachine
from inventory.proxmox import ProxmoxError
from inventory.proxmox.provisioning import import_disk_option
from policy.models import Quarantine
from policy.services.quarantine import quarantine_apply


def _create(ctx: StepContext) -> StepResult:
    params = ctx.params
    values = {
        "name": params["name"],
        "cores": 2,
        "memory": 2048,
        "scsihw": "virtio-scsi-single",
        "scsi0": import_disk_option(storage=params["storage"], source=params["source_volume"]),
        "net0": f"virtio,bridge={DEFAULT_BRIDGE}",
    }
    try:
        upid = ctx.gateway.guest_create(
            node=params["node"], kind="qemu", vmid=ctx.results["vmid"], values=values
        )
    except ProxmoxError as exc:
        return vmid_taken(ctx, exc, node=params["node"], kind="qemu", name=params["name"])
    return StepResult.started(upid, f"importing {params['source_volume']} onto {params['storage']}")


def _settled(ctx: StepContext) -> StepResult:
    return guest_settled(ctx, node=ctx.params["node"], kind="qemu", vmid=ctx.results["vmid"])


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
    StepSpec("sync", "Refresh the inventory", _sync),
    StepSpec("own", "Record the owner", own_new_guest, atomic=True),
    StepSpec("quarantine", "Quarantine the new VM", _quarantine, atomic=True),
)
