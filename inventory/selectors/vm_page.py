"""Everything the VM page shows about one guest, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from governance.core.permissions import can
from inventory.models import (
    Copy,
    CopyKind,
    GuestDevice,
    GuestDisk,
    GuestNic,
    Lineage,
    ProxmoxTask,
    Rollback,
    VirtualMachine,
)
from inventory.selectors.ledgers import (
    copies_for,
    identity_conflicts,
    lineage_for,
    residency_for,
)

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
    """(what is shared, the other guest) for each visible live guest sharing an identity."""
    labels = {"smbios_uuid": "SMBIOS UUID", "mac": "MAC"}
    return [
        (f"{labels[conflict.what]} {conflict.value}", other)
        for conflict in identity_conflicts(user=user, vm=vm)
        for other in conflict.guests
        if other.pk != vm.pk
    ]


def tasks_for(vm: VirtualMachine) -> QuerySet[ProxmoxTask]:
    """Proxmox tasks that touched this guest, newest first.

    A vmid is reused after a guest is destroyed, so only tasks inside this guest's
    lifetime count: after the previous holder of the vmid was gone, and before this
    one went. The clone task that created the guest is filed under its source's vmid
    and is added through the lineage ledger.
    """
    previous_gone = (
        VirtualMachine.objects.filter(
            cluster_id=vm.cluster_id, vmid=vm.vmid, gone_since__lte=vm.first_seen
        )
        .exclude(pk=vm.pk)
        .order_by("-gone_since")
        .values_list("gone_since", flat=True)
        .first()
    )
    own = Q(vmid=vm.vmid)
    if previous_gone is not None:
        own &= Q(starttime__gte=previous_gone)
    if vm.gone_since is not None:
        own &= Q(starttime__lte=vm.gone_since)
    creation = Q(
        upid__in=Lineage.objects.filter(child=vm).exclude(task_upid="").values("task_upid")
    )
    return ProxmoxTask.objects.filter(Q(cluster_id=vm.cluster_id) & (own | creation)).order_by(
        "-starttime", "-id"
    )


def vm_page(*, user: Any, vm: VirtualMachine) -> dict[str, Any]:
    """The VM page's sections; ``vm`` must already be visible to ``user``."""
    copies = list(copies_for(vm))
    snapshots = [c for c in copies if c.kind == CopyKind.SNAPSHOT]
    tasks = tasks_for(vm)[:TASK_LIMIT]
    return {
        "config_items": sorted(vm.config.items()) if isinstance(vm.config, dict) else [],
        "pending_items": sorted((vm.config_pending or {}).items()),
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
        # End users see their VMs but not the cluster page: no link that answers 404.
        "cluster_visible": can(user, "view", vm.cluster),
    }
