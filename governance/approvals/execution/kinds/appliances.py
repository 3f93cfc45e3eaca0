"""The create step of an import from an appliance (an ``.ova``/``.ovf`` on an import
storage). Proxmox cannot ``import-from`` the archive itself: the appliance is read with
``import-metadata`` and each of its disks is imported from its volid inside the archive,
which PVE extracts and copies onto the request's approved storage."""

from __future__ import annotations

from typing import Any

from governance.approvals.execution.base import StepContext, StepResult
from governance.approvals.execution.kinds.common import DEFAULT_BRIDGE, vmid_taken
from inventory.models import Cluster
from inventory.proxmox import ProxmoxError, ProxmoxGateway, ProxmoxLocked, ProxmoxUnreachable
from inventory.proxmox.appliances import ImportMetadata
from inventory.proxmox.provisioning import import_disk_option
from inventory.services.clusters import cluster_endpoint

APPLIANCE_SUFFIXES = (".ova", ".ovf")
#: Appliance settings a guest takes over as they are (cores and memory may be overridden).
_KEPT = ("ostype", "bios", "scsihw", "sockets", "machine")
_NIC_MODELS = ("virtio", "e1000", "e1000e", "vmxnet3", "rtl8139")


def is_appliance(volume: str) -> bool:
    return volume.lower().endswith(APPLIANCE_SUFFIXES)


def appliance_read(cluster: Cluster, *, node: str, volume: str) -> ImportMetadata:
    """The appliance ``volume`` as Proxmox reads it on ``node`` (request forms)."""
    gateway = ProxmoxGateway(cluster_endpoint(cluster))
    return gateway.import_metadata(node=node, storage=_storage_of(volume), volume=volume)


def _storage_of(volume: str) -> str:
    return volume.partition(":")[0]


def _values(ctx: StepContext, meta: ImportMetadata) -> dict[str, Any]:
    params = ctx.params
    args = meta.create_args
    values: dict[str, Any] = {"name": params["name"]}
    values.update({key: args[key] for key in _KEPT if key in args})
    values.setdefault("scsihw", "virtio-scsi-single")
    cores = params.get("cores") or meta.cores
    memory = params.get("memory_mib") or meta.memory_mib
    if cores:
        values["cores"] = int(cores)
    if memory:
        values["memory"] = int(memory)
    for disk in meta.disks:
        values[disk.slot] = import_disk_option(storage=params["storage"], source=disk.volid)
    bridge = params.get("bridge") or DEFAULT_BRIDGE
    for key, nic in sorted(meta.nets.items()) or [("net0", {})]:
        model = nic.get("model") if nic.get("model") in _NIC_MODELS else "virtio"
        values[key] = f"{model},bridge={bridge}"
    return values


def appliance_create(ctx: StepContext) -> StepResult:
    """Read the appliance, then start creating the guest from it; a volume Proxmox cannot
    read as an appliance fails the step with its answer (nothing was created)."""
    volume, node = ctx.params["source_volume"], ctx.params["node"]
    try:
        meta = ctx.gateway.import_metadata(node=node, storage=_storage_of(volume), volume=volume)
    except (ProxmoxUnreachable, ProxmoxLocked):
        raise
    except ProxmoxError as exc:
        return StepResult.failed(
            f"Proxmox cannot read {volume} as an appliance ({exc}); check that the file "
            "exists on that import storage and is a complete OVA/OVF, then retry"
        )
    if not meta.disks:
        return StepResult.failed(f"the appliance {volume} has no disk to import")
    values = _values(ctx, meta)
    try:
        upid = ctx.gateway.guest_create(
            node=node, kind="qemu", vmid=ctx.results["vmid"], values=values
        )
    except ProxmoxError as exc:
        return vmid_taken(ctx, exc, node=node, kind="qemu", name=ctx.params["name"])
    disks = ", ".join(f"{d.slot} {d.volid}" for d in meta.disks)
    message = (
        f"importing appliance {volume} ({values.get('cores', '?')} cores, "
        f"{values.get('memory', '?')} MiB; disks {disks}) onto {ctx.params['storage']}"
    )
    if meta.warnings:
        message += "; Proxmox warns: " + ", ".join(meta.warnings)
    return StepResult.started(upid, message)
