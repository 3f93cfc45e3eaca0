"""Reading the ledgers: where a guest ran, its copies, its family, and who was exposed where.

Per-guest selectors take a guest the caller already may see; estate-wide selectors take
the ``user`` and only return guests ``governance.core.permissions.restrict`` lets them
see. Every selector runs a fixed number of queries (lineage: one per tree level).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from governance.core.permissions import restrict
from inventory.models import Copy, GuestNic, Lineage, Node, Residency, VirtualMachine

# A lineage deeper than this is a data error (or a cycle); the walk stops there.
MAX_LINEAGE_DEPTH = 32


def residency_for(vm: VirtualMachine) -> QuerySet[Residency]:
    """Where ``vm`` has lived, oldest first; the open row (``ended_at`` null) is last."""
    return Residency.objects.filter(vm=vm).select_related("node").order_by("started_at", "id")


def copies_for(vm: VirtualMachine, *, include_deleted: bool = True) -> QuerySet[Copy]:
    """Every recorded copy of ``vm``'s data (snapshots, backups, replicas, clones), oldest
    first; copies recorded before the row existed are matched by cluster and vmid."""
    copies = Copy.objects.filter(
        Q(vm=vm) | Q(vm__isnull=True, cluster_id=vm.cluster_id, source_vmid=vm.vmid)
    )
    if not include_deleted:
        copies = copies.filter(deleted_at__isnull=True)
    return copies.select_related("storage").order_by("created_at", "id")


@dataclass
class LineageNode:
    """One guest in a family tree; ``kind``/``task_upid`` describe the edge from its parent."""

    vm: VirtualMachine
    kind: str = ""
    task_upid: str = ""
    children: list[LineageNode] = field(default_factory=list)


def lineage_for(vm: VirtualMachine) -> LineageNode:
    """The family tree ``vm`` belongs to, from its oldest known ancestor down."""
    root_id, seen = vm.pk, {vm.pk}
    for _ in range(MAX_LINEAGE_DEPTH):
        parent_id = (
            Lineage.objects.filter(child_id=root_id)
            .order_by("detected_at", "id")
            .values_list("parent_id", flat=True)
            .first()
        )
        if parent_id is None or parent_id in seen:
            break
        seen.add(parent_id)
        root_id = parent_id
    root = LineageNode(vm if root_id == vm.pk else VirtualMachine.objects.get(pk=root_id))
    level, placed = [root], {root_id}
    for _ in range(MAX_LINEAGE_DEPTH):
        by_id = {node.vm.pk: node for node in level}
        edges = (
            Lineage.objects.filter(parent_id__in=list(by_id))
            .select_related("child")
            .order_by("detected_at", "id")
        )
        level = []
        for edge in edges:
            if edge.child_id in placed:
                continue
            placed.add(edge.child_id)
            child = LineageNode(edge.child, edge.kind, edge.task_upid)
            by_id[edge.parent_id].children.append(child)
            level.append(child)
        if not level:
            break
    return root


@dataclass(frozen=True)
class IdentityConflict:
    """Live guests sharing one identity (``what`` is ``smbios_uuid`` or ``mac``)."""

    what: str
    value: str
    guests: tuple[VirtualMachine, ...]


def identity_conflicts(*, user: Any, vm: VirtualMachine | None = None) -> list[IdentityConflict]:
    """SMBIOS UUIDs and MAC addresses that more than one live guest carries, across all
    clusters (a cloned identity confuses licensing, DHCP, monitoring and forensics).

    With ``vm`` (a guest the caller may see, live or gone), only the identities ``vm``
    carries, each group holding ``vm`` and the visible live guests sharing it. The
    estate-wide and the per-guest views are this one query shape, so they always agree.
    """
    visible = restrict(VirtualMachine.objects.filter(gone_since__isnull=True), user)
    if vm is None:
        uuids = list(
            visible.exclude(smbios_uuid="")
            .values("smbios_uuid")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .values_list("smbios_uuid", flat=True)
        )
        macs = list(
            GuestNic.objects.filter(vm__in=visible)
            .exclude(mac="")
            .values("mac")
            .annotate(n=Count("vm", distinct=True))
            .filter(n__gt=1)
            .values_list("mac", flat=True)
        )
    else:
        uuids = [vm.smbios_uuid] if vm.smbios_uuid else []
        macs = sorted(set(vm.nics.exclude(mac="").values_list("mac", flat=True)))
    by_uuid: dict[str, list[VirtualMachine]] = defaultdict(list)
    for guest in visible.filter(smbios_uuid__in=uuids).select_related("cluster").order_by("id"):
        by_uuid[guest.smbios_uuid].append(guest)
    by_mac: dict[str, list[VirtualMachine]] = defaultdict(list)
    nics = GuestNic.objects.filter(mac__in=macs, vm__in=visible).select_related("vm__cluster")
    for nic in nics.order_by("mac", "vm_id"):
        if nic.vm not in by_mac[nic.mac]:
            by_mac[nic.mac].append(nic.vm)
    if vm is not None:  # a gone guest is not in ``visible``, yet its page shows its twins
        for groups, values in ((by_uuid, uuids), (by_mac, macs)):
            for value in values:
                if vm not in groups[value]:
                    groups[value].insert(0, vm)
    return [
        *(
            IdentityConflict("smbios_uuid", k, tuple(v))
            for k, v in sorted(by_uuid.items())
            if len(v) > 1
        ),
        *(IdentityConflict("mac", k, tuple(v)) for k, v in sorted(by_mac.items()) if len(v) > 1),
    ]


def dormant_vms(*, user: Any, days: int, now: datetime | None = None) -> QuerySet[VirtualMachine]:
    """Live guests not running now and not seen running for ``days`` days (never-started
    guests count from when Steward first saw them), least recently running first."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    quiet = Q(last_running__lt=cutoff) | Q(last_running__isnull=True, first_seen__lt=cutoff)
    return (
        restrict(VirtualMachine.objects.all(), user)
        .filter(quiet, gone_since__isnull=True)
        .exclude(status="running")
        .select_related("cluster", "node")
        .order_by("last_running", "id")
    )


@dataclass(frozen=True)
class Exposure:
    """A guest that ran on the node in the window, and the copies made of it since."""

    vm: VirtualMachine
    stays: tuple[Residency, ...]
    copies: tuple[Copy, ...]


def exposure(*, user: Any, node: Node, since: datetime, until: datetime) -> list[Exposure]:
    """Every guest that lived on ``node`` at any time in [since, until], with each copy of
    it made from ``since`` on: what a compromised or seized node may have leaked, and
    where that data went afterwards (the mobility problem)."""
    visible = restrict(VirtualMachine.objects.all(), user)
    stays = (
        Residency.objects.filter(node=node, started_at__lte=until, vm__in=visible)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=since))
        .select_related("vm__cluster", "node")
        .order_by("vm_id", "started_at", "id")
    )
    by_vm: dict[int, list[Residency]] = defaultdict(list)
    guests: dict[int, VirtualMachine] = {}
    for stay in stays:
        by_vm[stay.vm_id].append(stay)
        guests[stay.vm_id] = stay.vm
    copies: dict[int, list[Copy]] = defaultdict(list)
    made = Copy.objects.filter(vm_id__in=list(guests), created_at__gte=since).select_related(
        "storage"
    )
    for copy in made.order_by("created_at", "id"):
        copies[copy.vm_id].append(copy)
    return [Exposure(guests[vm_id], tuple(by_vm[vm_id]), tuple(copies[vm_id])) for vm_id in by_vm]
