"""Everything the VM page shows about one guest, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from governance.core.permissions import restrict
from inventory.models import (
    Copy,
    CopyKind,
    GuestDevice,
    GuestDisk,
    GuestNic,
    ProxmoxTask,
    Rollback,
    VirtualMachine,
)
from inventory.selectors.ledgers import copies_for, lineage_for, residency_for

TASK_LIMIT = 50


@dataclass
class SnapshotNode:
    copy: Copy
    children: list[SnapshotNode] = field(default_factory=list)


def snapshot_tree(snapshots: list[Copy]) -> list[SnapshotNode]:
    """Snapshots as a forest by ``parent`` name; an unknown parent makes a root."""
    nodes = {snap.name: SnapshotNode(snap) for snap in snapshots}
    roots: list[SnapshotNode] = []
    for snap in snapshots:
        parent = nodes.get(snap.parent) if snap.parent != snap.name else None
        (parent.children if parent else roots).append(nodes[snap.name])
    return roots


def guest_identity_conflicts(*, user: Any, vm: VirtualMachine) -> list[tuple[str, VirtualMachine]]:
    """Other live guests (any cluster) sharing this guest's SMBIOS UUID or one of its MACs."""
    macs = [mac for mac in vm.nics.values_list("mac", flat=True) if mac]
    clauses = Q(nics__mac__in=macs) if macs else Q(pk__in=[])
    if vm.smbios_uuid:
        clauses |= Q(smbios_uuid=vm.smbios_uuid)
    others = (
        restrict(VirtualMachine.objects.select_related("cluster"), user)
        .filter(clauses, gone_since__isnull=True)
        .exclude(pk=vm.pk)
        .distinct()
        .prefetch_related("nics")
    )
    found = []
    for other in others:
        if vm.smbios_uuid and other.smbios_uuid == vm.smbios_uuid:
            found.append((f"SMBIOS UUID {vm.smbios_uuid}", other))
        shared = sorted(set(macs) & {nic.mac for nic in other.nics.all()})
        if shared:
            found.append((f"MAC {', '.join(shared)}", other))
    return found


def vm_page(*, user: Any, vm: VirtualMachine) -> dict[str, Any]:
    """The VM page's sections; ``vm`` must already be visible to ``user``."""
    copies = list(copies_for(vm))
    snapshots = [c for c in copies if c.kind == CopyKind.SNAPSHOT]
    tasks = ProxmoxTask.objects.filter(cluster_id=vm.cluster_id, vmid=vm.vmid).order_by(
        "-starttime", "-id"
    )[:TASK_LIMIT]
    return {
        "config_items": sorted(vm.config.items()) if isinstance(vm.config, dict) else [],
        "nics": GuestNic.objects.filter(vm=vm).order_by("key"),
        "disks": GuestDisk.objects.filter(vm=vm).select_related("storage").order_by("key"),
        "devices": GuestDevice.objects.filter(vm=vm).order_by("key"),
        "snapshot_tree": snapshot_tree(snapshots),
        "snapshots": snapshots,
        "backups": [c for c in copies if c.kind == CopyKind.BACKUP],
        "other_copies": [c for c in copies if c.kind not in (CopyKind.SNAPSHOT, CopyKind.BACKUP)],
        "residencies": list(reversed(residency_for(vm))),
        "lineage_roots": [lineage_for(vm)],
        "tasks": tasks,
        "rollbacks": Rollback.objects.filter(vm=vm).order_by("-detected_at", "-id"),
        "conflicts": guest_identity_conflicts(user=user, vm=vm),
    }
