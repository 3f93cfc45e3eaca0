"""What a team uses against its quota, and what a request would add (read only).

A team's use is what it owns plus what its open requests have reserved, on all clusters
or, for a per-cluster quota, on one (the cluster a guest lives on, a request's cluster):

- owned: its live, non-template guests (current ownership row's team), sized by the
  inventory: ``maxcpu`` cores, ``maxmem`` memory, and the sum of the guest's disks
  (CD-ROMs excluded; ``maxdisk``, the boot disk, when no disk of it was parsed);
- reserved: its provision, import, clone and ownership-transfer requests from submission
  until their guest is owned (the execution's ``own`` step) or the request ends. At
  submission every open request counts; just before execution only the requests already
  executing do (the first approved runs first; a pending one is checked at its own turn).

A request's size: provision its cores, memory and disk (from a template: the template's
disks, which a full clone copies); import from an image its ``cores``/``memory_mib``
(an appliance's own, filled in by the form), else ``IMPORT_CORES`` cores and
``IMPORT_MEMORY_MIB`` (the image's disk counts once the guest is in the inventory, as
Proxmox reports its size only then); import from another cluster, clone and ownership
transfer the size of the guest concerned, charged to the team that will own it (nothing
for a clone made a template or a template handed over: templates are not counted).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import BigIntegerField, Count, Exists, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.html import format_html, format_html_join

from governance.accounts.models import Team
from governance.approvals.execution.kinds.imports import IMPORT_CORES, IMPORT_MEMORY_MIB
from governance.approvals.models import (
    LIMITS,
    ExecutionStep,
    Request,
    RequestKind,
    RequestState,
    StepState,
    TeamQuota,
)
from governance.ownership.models import Ownership
from inventory.models import GuestDisk, VirtualMachine

MIB = 1024**2
GIB = 1024**3
#: Kinds that give a team a guest (or a guest's size) it did not have.
QUOTA_KINDS = frozenset(
    {
        RequestKind.PROVISION,
        RequestKind.IMPORT,
        RequestKind.CLONE,
        RequestKind.OWNERSHIP_TRANSFER,
    }
)
#: Request states in which a request holds its reservation.
RESERVING = (RequestState.PENDING, RequestState.APPROVED, RequestState.EXECUTING)


@dataclass(frozen=True)
class Size:
    """An amount of guests and their resources; memory and disk in bytes."""

    vms: int = 0
    cores: int = 0
    memory: int = 0
    disk: int = 0

    def __add__(self, other: Size) -> Size:
        return Size(
            self.vms + other.vms,
            self.cores + other.cores,
            self.memory + other.memory,
            self.disk + other.disk,
        )

    def raw(self, limit: str) -> int:
        """The figure behind ``limit`` (a ``LIMITS`` key): a count, or bytes."""
        return getattr(self, _MEASURES[limit][0])

    def amount(self, limit: str) -> int:
        """The figure in ``limit``'s unit, rounded up (32.1 GiB shows as 33)."""
        return -(-self.raw(limit) // _MEASURES[limit][1])

    def exceeds(self, limit: str, value: int) -> bool:
        """Whether this is more than ``value`` of ``limit``'s unit (compared unrounded)."""
        return self.raw(limit) > value * _MEASURES[limit][1]


#: Per limit: the ``Size`` field it measures and that field's amount per unit of the limit.
_MEASURES: dict[str, tuple[str, int]] = {
    "max_vms": ("vms", 1),
    "max_cores": ("cores", 1),
    "max_memory_mib": ("memory", MIB),
    "max_disk_gib": ("disk", GIB),
}


@dataclass(frozen=True)
class Usage:
    """A team's ``owned`` guests and its open requests' ``reserved`` size."""

    owned: Size
    reserved: Size

    @property
    def total(self) -> Size:
        return self.owned + self.reserved


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _disk_totals(vm_ids: Iterable[int]) -> dict[int, int]:
    """Per guest: the sum of its disks, or ``maxdisk`` when none was parsed."""
    ids = list(vm_ids)
    totals = dict(
        GuestDisk.objects.filter(vm_id__in=ids, is_cdrom=False)
        .values("vm_id")
        .annotate(total=Sum("size"))
        .values_list("vm_id", "total")
    )
    for vm_id, maxdisk in VirtualMachine.objects.filter(pk__in=ids).values_list("pk", "maxdisk"):
        totals.setdefault(vm_id, maxdisk)
    return totals


def vm_size(vm: VirtualMachine) -> Size:
    """One guest as the inventory last saw it."""
    return Size(1, vm.maxcpu, vm.maxmem, _disk_totals([vm.pk]).get(vm.pk, 0))


def charged_team(kind: str, request_team: int | None, parameters: Mapping[str, Any]) -> int | None:
    """The team a request of ``kind`` adds to (None: no team's quota applies).

    ``request_team`` is the request's ``team`` (the VM's team for kinds on a VM); a new
    guest goes to the team the parameters name, else that team; an ownership transfer
    charges the receiving team only when it differs from the current one.
    """
    named = _int(parameters.get("team")) or None
    if kind == RequestKind.OWNERSHIP_TRANSFER:
        return named if named != request_team else None
    if kind in QUOTA_KINDS:
        return named or request_team
    return None


def request_size(kind: str, parameters: Mapping[str, Any], vm: VirtualMachine | None) -> Size:
    """What a request of ``kind`` adds to its team (see the module docstring)."""
    if kind == RequestKind.PROVISION:
        template = _int(parameters.get("template"))
        disk = _int(parameters.get("disk_gib")) * GIB
        if template:
            disk = _disk_totals([template]).get(template, 0)
        memory = _int(parameters.get("memory_mib")) * MIB
        return Size(1, _int(parameters.get("cores")), memory, disk)
    if kind == RequestKind.IMPORT:
        if parameters.get("source_cluster"):
            source = VirtualMachine.objects.filter(
                cluster__name=parameters["source_cluster"],
                vmid=_int(parameters.get("source_vmid")),
                gone_since__isnull=True,
            ).first()
            if source is not None:
                return vm_size(source)
        cores = _int(parameters.get("cores")) or IMPORT_CORES  # an appliance's own size
        return Size(1, cores, (_int(parameters.get("memory_mib")) or IMPORT_MEMORY_MIB) * MIB, 0)
    # Templates count against no quota: a clone made one, or a template handed over.
    if kind == RequestKind.CLONE and parameters.get("template"):
        return Size()
    if kind == RequestKind.OWNERSHIP_TRANSFER and vm is not None and vm.template:
        return Size()
    if kind in (RequestKind.CLONE, RequestKind.OWNERSHIP_TRANSFER) and vm is not None:
        return vm_size(vm)
    return Size()


def _owned(team_ids: list[int], cluster_id: int | None) -> dict[int, Size]:
    """One grouped pass over the teams' current ownership rows; each guest's disks are
    summed by an index lookup (``maxdisk`` when none was parsed)."""
    disks = (
        GuestDisk.objects.filter(vm_id=OuterRef("vm_id"), is_cdrom=False)
        .values("vm_id")
        .annotate(total=Sum("size"))
        .values("total")
    )
    disk = Coalesce(Subquery(disks), F("vm__maxdisk"), output_field=BigIntegerField())
    owned = Ownership.objects.filter(
        until__isnull=True,
        team_id__in=team_ids,
        vm__gone_since__isnull=True,
        vm__template=False,
    )
    if cluster_id is not None:
        owned = owned.filter(vm__cluster_id=cluster_id)
    rows = owned.values("team_id").annotate(
        vms=Count("id"),
        cores=Sum("vm__maxcpu"),
        memory=Sum("vm__maxmem"),
        disk=Sum(disk),
    )
    return {
        row["team_id"]: Size(row["vms"], row["cores"] or 0, row["memory"] or 0, row["disk"] or 0)
        for row in rows
    }


def _reserved(
    team_ids: list[int],
    *,
    cluster_id: int | None,
    executing_only: bool,
    exclude_request: int | None,
) -> dict[int, Size]:
    landed = ExecutionStep.objects.filter(
        execution__request=OuterRef("pk"),
        name="own",
        state__in=(StepState.DONE, StepState.SKIPPED),
    )
    states = (RequestState.EXECUTING,) if executing_only else RESERVING
    open_requests = (
        Request.objects.filter(kind__in=QUOTA_KINDS, state__in=states)
        # Narrowed in SQL to requests that may charge these teams (``charged_team`` decides;
        # a team id in the parameters may be stored as a number or as text).
        .filter(
            Q(team_id__in=team_ids)
            | Q(parameters__team__in=[*team_ids, *(str(team) for team in team_ids)])
        )
        .filter(~Exists(landed))
        .select_related("vm")
        .only("kind", "team_id", "parameters", "vm")
    )
    if exclude_request is not None:
        open_requests = open_requests.exclude(pk=exclude_request)
    if cluster_id is not None:
        open_requests = open_requests.filter(cluster_id=cluster_id)
    wanted = set(team_ids)
    reserved: dict[int, Size] = {}
    for request in open_requests:
        team = charged_team(request.kind, request.team_id, request.parameters)
        if team in wanted:
            size = request_size(request.kind, request.parameters, request.vm)
            reserved[team] = reserved.get(team, Size()) + size
    return reserved


def teams_usage(
    team_ids: Iterable[int],
    *,
    cluster_id: int | None = None,
    executing_only: bool = False,
    exclude_request: int | None = None,
) -> dict[int, Usage]:
    """``Usage`` of each team in ``team_ids``, on ``cluster_id`` only when given (see the
    module docstring)."""
    ids = list(team_ids)
    owned = _owned(ids, cluster_id)
    reserved = _reserved(
        ids,
        cluster_id=cluster_id,
        executing_only=executing_only,
        exclude_request=exclude_request,
    )
    return {team: Usage(owned.get(team, Size()), reserved.get(team, Size())) for team in ids}


def team_usage(team_id: int, **options: Any) -> Usage:
    return teams_usage([team_id], **options)[team_id]


def quota_of(team_id: int, cluster_id: int | None = None) -> TeamQuota | None:
    """The team's quota on ``cluster_id``, or for all clusters when None."""
    return TeamQuota.objects.filter(team_id=team_id, cluster_id=cluster_id).first()


def usage_lines(usage: Usage, quota: TeamQuota | None) -> list[str]:
    """``"12 of 32 vCPU cores"`` per limit (``"... (no limit)"`` where none is set)."""
    limits = quota.limits() if quota is not None else dict.fromkeys(LIMITS)
    lines = []
    for limit, words in LIMITS.items():
        used = usage.total.amount(limit)
        value = limits[limit]
        of = "(no limit)" if value is None else f"of {value}"
        lines.append(f"{used} {of} {words}" if value is not None else f"{used} {words} {of}")
    return lines


def quota_help(team_ids: Iterable[int], cluster_id: int | None = None) -> str:
    """For a request form: each team's use against its limits on all clusters and on
    ``cluster_id`` (where the request lands), as escaped HTML lines."""
    teams = list(Team.objects.filter(pk__in=list(team_ids)).order_by("name"))
    quotas = TeamQuota.objects.filter(team__in=teams).select_related("cluster")
    quotas = quotas.filter(Q(cluster=None) | Q(cluster_id=cluster_id))
    quotas = list(quotas.order_by(F("cluster__name").asc(nulls_first=True)))
    # One grouped pass for all clusters and one for the request's cluster.
    everywhere = teams_usage(q.team_id for q in quotas if q.cluster_id is None)
    here = teams_usage((q.team_id for q in quotas if q.cluster_id), cluster_id=cluster_id)
    rows = []
    for team in teams:
        parts = [
            ("" if quota.cluster is None else f"on {quota.cluster.name}: ")
            + "; ".join(usage_lines((here if quota.cluster else everywhere)[team.pk], quota))
            for quota in quotas
            if quota.team_id == team.pk
        ]
        rows.append((team.name, " | ".join(parts) or "no quota"))
    if not rows:
        return ""
    lines = format_html_join("", "<br>{}: {}", rows)
    return format_html("Quota use with open requests:{}", lines)
