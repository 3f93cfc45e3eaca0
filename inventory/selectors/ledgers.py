"""Reading the ledgers: where a guest ran, its copies, its family, and who was exposed where.

Per-guest selectors take a guest the caller already may see; estate-wide selectors take
the ``user`` and only return guests ``governance.core.permissions.restrict`` lets them
see. Every selector runs a fixed number of queries (lineage: one per tree level).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, FilteredRelation, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from governance.core.permissions import permission_name, restrict
from inventory.models import (
    Copy,
    GuestNic,
    Lineage,
    Node,
    Residency,
    StorageClass,
    VirtualMachine,
)

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


# Copies on these classes of storage may have left the operator's control.
EXPOSURE_RISKY_CLASSES = (StorageClass.REMOVABLE.value, StorageClass.EXTERNAL.value)


@dataclass(frozen=True)
class Exposure:
    """A guest that ran on the node in the window, and the copies made of it since.

    ``vm`` carries ``owner_name``, ``team_name`` and ``arrived`` (its first stay in the
    window) from ``exposure_guests``.
    """

    vm: VirtualMachine
    stays: tuple[Residency, ...]
    copies: tuple[Copy, ...]


@dataclass(frozen=True)
class ExposureSummary:
    guests: int
    copies: int
    risky_copies: int


def exposure_nodes(*, user: Any) -> QuerySet[Node]:
    """Nodes ``user`` may ask an exposure report about, gone ones included: those they may
    view, and those a guest they may see has lived on (its VM page names them already)."""
    nodes = (
        Node.objects.select_related("cluster")
        .defer("cluster__token_secret")  # decrypted on every row read otherwise
        .order_by("cluster__name", "name", "id")
    )
    if user.is_authenticated and (
        user.is_superuser or user.has_perm(permission_name(Node, "view"))
    ):
        return restrict(nodes, user)
    lived_on = restrict(Residency.objects.all(), user).values("node_id")
    return nodes.filter(
        Q(pk__in=restrict(Node.objects.all(), user).values("pk")) | Q(pk__in=lived_on)
    )


def _stays(node: Node, since: datetime, until: datetime) -> QuerySet[Residency]:
    """Stays on ``node`` overlapping [since, until]; an open stay runs until now."""
    return Residency.objects.filter(node=node, started_at__lte=until).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=since)
    )


def exposure_guests(
    *, user: Any, node: Node, since: datetime, until: datetime
) -> QuerySet[VirtualMachine]:
    """Every guest ``user`` may see that lived on ``node`` at any time in [since, until],
    destroyed ones too (they were exposed all the same), unordered; one query.

    Each carries its current ``owner_name`` and ``team_name`` (read through the reverse
    relation ownership declares, so inventory imports nothing from it) and ``arrived``.
    """
    window = _stays(node, since, until)
    first = window.filter(vm=OuterRef("pk")).order_by("started_at", "id").values("started_at")
    made = Copy.objects.filter(vm=OuterRef("pk"), created_at__gte=since).order_by()
    return (
        restrict(VirtualMachine.objects.select_related("cluster", "node"), user)
        .filter(pk__in=window.values("vm_id"))
        .defer("config", "config_pending", "cluster__token_secret")
        .annotate(
            holder=FilteredRelation("ownerships", condition=Q(ownerships__until__isnull=True)),
            owner_name=F("holder__owner__username"),
            team_name=F("holder__team__name"),
            arrived=Subquery(first[:1]),
            copy_count=Coalesce(Subquery(made.values("vm").annotate(n=Count("id")).values("n")), 0),
        )
    )


def exposure_details(
    guests: QuerySet[VirtualMachine], *, node: Node, since: datetime, until: datetime
) -> list[Exposure]:
    """``guests`` (from ``exposure_guests``, ordered, maybe one page of it) with their stays
    on ``node`` and their copies made from ``since`` on; three queries, however many
    guests: the guests are read once and reused as a subquery, never as a list of ids."""
    rows = list(guests)
    if not rows:
        return []
    keys = guests.values("pk")
    # Every stay is on ``node`` and every copy is recorded under its guest's cluster: the
    # rows already read are set on them rather than joined again for each one.
    stays: dict[int, list[Residency]] = defaultdict(list)
    for stay in (
        _stays(node, since, until).filter(vm__in=keys).order_by("vm_id", "started_at", "id")
    ):
        stay.node = node
        stays[stay.vm_id].append(stay)
    clusters = {row.cluster_id: row.cluster for row in rows}
    copies: dict[int, list[Copy]] = defaultdict(list)
    made = Copy.objects.filter(vm__in=keys, created_at__gte=since).select_related("storage")
    for copy in made.order_by("created_at", "id"):
        if copy.cluster_id in clusters:
            copy.cluster = clusters[copy.cluster_id]
        copies[copy.vm_id].append(copy)
    return [Exposure(row, tuple(stays[row.pk]), tuple(copies[row.pk])) for row in rows]


def exposure(*, user: Any, node: Node, since: datetime, until: datetime) -> list[Exposure]:
    """Every guest that lived on ``node`` at any time in [since, until], with each copy of
    it made from ``since`` on: what a compromised or seized node may have leaked, and
    where that data went afterwards (the mobility problem). Three queries."""
    guests = exposure_guests(user=user, node=node, since=since, until=until)
    return exposure_details(
        guests.order_by("cluster__name", "vmid", "id"), node=node, since=since, until=until
    )


def exposure_batches(
    *, user: Any, node: Node, since: datetime, until: datetime, size: int = 500
) -> Iterator[list[Exposure]]:
    """``exposure`` in batches of ``size`` guests by id, for exports of any length that
    hold one batch in memory at a time; three queries a batch."""
    guests = exposure_guests(user=user, node=node, since=since, until=until).order_by("id")
    after = 0
    while batch := exposure_details(
        guests.filter(pk__gt=after)[:size], node=node, since=since, until=until
    ):
        yield batch
        after = batch[-1].vm.pk


def exposure_summary(*, user: Any, node: Node, since: datetime, until: datetime) -> ExposureSummary:
    """How many guests were exposed, how many copies of them were made since, and how many
    of those went to removable or external storage; two queries."""
    guests = restrict(VirtualMachine.objects.all(), user).filter(
        pk__in=_stays(node, since, until).values("vm_id")
    )
    totals = Copy.objects.filter(vm__in=guests.values("pk"), created_at__gte=since).aggregate(
        copies=Count("id"), risky=Count("id", filter=Q(storage_class__in=EXPOSURE_RISKY_CLASSES))
    )
    return ExposureSummary(guests.count(), totals["copies"], totals["risky"])
