"""Reading the ownership dashboard: one set of building blocks for three scopes.

The admin dashboard (every VM), a manager's team page and an end user's "My VMs" show
the same blocks: totals, counts by team and by owner, top owners by resources, the
oldest unowned VMs, VMs whose owner left, leases ending soon, and sprawl over time.

Invariants:
- Every block starts from ``restrict`` (so a scope never shows a VM its viewer may not
  see) and is one SQL query whatever the fleet size: the whole dashboard costs a fixed
  number of queries (``DASHBOARD_QUERIES``), with filtering and grouping in SQL. The
  figures and both rankings come from one scan grouped by (team, owner) keys.
- The current ownership row is joined with a ``FilteredRelation`` (``until`` null), so
  a VM without any row still counts (as unowned) and never counts twice.
- Every number carries the query string of the ownership VM list that shows exactly
  the VMs it counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone

from governance.accounts.models import Team, User
from governance.core.permissions import restrict
from governance.ownership.charts import Sprawl, sprawl_from_samples
from governance.ownership.models import Ownership, SprawlSample
from inventory.models import VirtualMachine
from inventory.selectors.guests import dormant_since

LEASE_WARNING_DAYS = 14
SPRAWL_WEEKS = 26
TOP = 10
# One grouped scan, all teams, the owners found (skipped when nobody owns anything),
# unowned, owner left, leases, sprawl.
DASHBOARD_QUERIES = 7

ScopeKind = Literal["all", "team", "mine"]


@dataclass(frozen=True)
class Scope:
    """Which VMs a dashboard covers: all the viewer sees, one team's, or the viewer's own."""

    kind: ScopeKind
    label: str
    team: Team | None = None
    user: Any = None

    @property
    def params(self) -> dict[str, str]:
        """The list-page parameters that narrow to this scope."""
        if self.kind == "team" and self.team is not None:
            return {"team": self.team.slug}
        if self.kind == "mine":
            return {"mine": "yes"}
        return {}

    def query(self, **params: str) -> str:
        """The ownership VM list's query string for this scope plus ``params``."""
        return urlencode({**self.params, **params})


@dataclass(frozen=True)
class Figure:
    """A number and the list query showing exactly what it counts."""

    key: str
    label: str
    value: int
    query: str
    warn: bool = False


@dataclass(frozen=True)
class Holder:
    """A team or an owner with its live VMs and their configured resources."""

    key: str
    label: str
    vms: int
    cpu: int
    mem: int
    disk: int
    query: str
    active: bool = True


@dataclass(frozen=True)
class VmLine:
    """One VM in a dashboard list, as plain values (no model instance)."""

    pk: int
    name: str
    vmid: int
    cluster: str
    first_seen: datetime
    owner: str
    team: str
    lease_end: date | None


@dataclass(frozen=True)
class Dashboard:
    scope: Scope
    today: date
    figures: list[Figure]
    by_team: list[Holder]
    by_owner: list[Holder]
    by_resources: list[Holder]
    unowned: list[VmLine]
    owner_left: list[VmLine]
    leases: list[VmLine]
    sprawl: Sprawl
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def figure_map(self) -> dict[str, Figure]:
        """The figures by key, for templates (``dashboard.figure_map.unowned.query``)."""
        return {figure.key: figure for figure in self.figures}


def with_current(queryset: QuerySet[VirtualMachine]) -> QuerySet[VirtualMachine]:
    """``queryset`` with ``current`` joined: the VM's open ownership row, if any (LEFT JOIN)."""
    return queryset.annotate(
        current=FilteredRelation("ownerships", condition=Q(ownerships__until__isnull=True))
    )


def dormant_q() -> Q:
    """Not running, and not running since before the dormant cut-off (as inventory counts)."""
    cutoff = dormant_since()
    return ~Q(status="running") & (
        Q(last_running__lt=cutoff) | Q(last_running__isnull=True, first_seen__lt=cutoff)
    )


def _current_rows() -> QuerySet[Ownership]:
    return Ownership.objects.filter(until__isnull=True).order_by()


def owned_q() -> Q:
    """The VM has a current owner, as ``EXISTS`` (so "not owned" becomes an anti-join that
    walks an ordered index and stops at the page size, instead of a full outer join)."""
    return Q(Exists(_current_rows().filter(vm_id=OuterRef("pk"), owner__isnull=False)))


def scope_q(scope: Scope) -> Q:
    """The scope's condition: ``pk IN`` the current rows of that team or person.

    The partial indexes on current rows find those few VMs first; "mine" is a UNION ALL
    of the owner and custodian rows, each on its own index.
    """
    current = _current_rows()
    if scope.kind == "team":
        return Q(pk__in=current.filter(team=scope.team).values("vm_id"))
    if scope.kind == "mine":
        owned = current.filter(owner=scope.user).values("vm_id")
        kept = current.filter(custodian=scope.user).values("vm_id")
        return Q(pk__in=owned.union(kept, all=True))
    return Q()


def scoped_vms(*, viewer: Any, scope: Scope) -> QuerySet[VirtualMachine]:
    """Live VMs ``viewer`` may see within ``scope``, with ``current`` joined.

    Every scope goes through ``restrict`` (the one door), narrowed by ``scope_q``; who
    may open a team page or "My VMs" at all is the views' check.
    """
    live = VirtualMachine.objects.filter(gone_since__isnull=True).filter(scope_q(scope))
    return with_current(restrict(live, viewer))


def _lines(queryset: QuerySet[VirtualMachine], *order: str, limit: int) -> list[VmLine]:
    rows = queryset.order_by(*order).values(
        "pk",
        "name",
        "vmid",
        "first_seen",
        cluster_name=F("cluster__name"),
        owner_name=F("current__owner__username"),
        team_name=F("current__team__name"),
        lease=F("current__lease_end"),
    )[:limit]
    return [
        VmLine(
            pk=row["pk"],
            name=row["name"],
            vmid=row["vmid"],
            cluster=row["cluster_name"],
            first_seen=row["first_seen"],
            owner=row["owner_name"] or "",
            team=row["team_name"] or "",
            lease_end=row["lease"],
        )
        for row in rows
    ]


_SUMMED = ("vms", "cpu", "mem", "disk", "dormant", "lease_expiring", "lease_expired")


def _groups(vms: QuerySet[VirtualMachine], *, today: date) -> list[dict[str, Any]]:
    """One scan of the scope: a row per (team id, owner id) with counts and resources.

    Grouping by the two integer keys (not by names, and without joining teams and
    users over the fleet) keeps the aggregate narrow and parallel; the rows are summed
    per team and per owner in Python and named by ``_rankings``.
    """
    soon = today + timedelta(days=LEASE_WARNING_DAYS)
    expiring = Q(current__lease_end__gte=today, current__lease_end__lte=soon)
    return list(
        vms.values(team=F("current__team_id"), owner=F("current__owner_id"))
        .annotate(
            vms=Count("pk"),
            cpu=Sum("maxcpu"),
            mem=Sum("maxmem"),
            disk=Sum("maxdisk"),
            dormant=Count("pk", filter=dormant_q()),
            lease_expiring=Count("pk", filter=expiring),
            lease_expired=Count("pk", filter=Q(current__lease_end__lt=today)),
        )
        .order_by()
    )


def _sum_by(groups: list[dict[str, Any]], key: str) -> dict[Any, dict[str, int]]:
    """Per value of ``key``: the summed figures."""
    sums: dict[Any, dict[str, int]] = {}
    for row in groups:
        total = sums.setdefault(row[key], dict.fromkeys(_SUMMED, 0))
        for name in _SUMMED:
            total[name] += row[name] or 0
    return sums


def _holder(key: str, label: str, sums: dict[str, int], query: str, active: bool = True) -> Holder:
    return Holder(
        key=key,
        label=label,
        vms=sums["vms"],
        cpu=sums["cpu"],
        mem=sums["mem"],
        disk=sums["disk"],
        query=query,
        active=active,
    )


def _rankings(
    groups: list[dict[str, Any]], scope: Scope
) -> tuple[list[Holder], list[Holder], dict[str, int]]:
    """Teams and owners as holders, most VMs first, and the totals.

    Names come from two small reads: every team (teams are few, and reading them all
    keeps the query count independent of the data), and the owners found by the scan.
    """
    by_team_id = _sum_by(groups, "team")
    by_owner_id = _sum_by([row for row in groups if row["owner"] is not None], "owner")
    teams = {pk: (slug, name) for pk, slug, name in Team.objects.values_list("pk", "slug", "name")}
    by_team = []
    for team_id, sums in by_team_id.items():
        slug, name = teams.get(team_id, ("", ""))
        by_team.append(_holder(slug, name, sums, scope.query(team=slug or "none")))
    # The VMs without a team sort after any team with as many VMs (a NULL name sorts last).
    by_team.sort(key=lambda h: (-h.vms, h.label == "", h.label))
    by_owner = []
    owners = {
        pk: (username, active)
        for pk, username, active in User.objects.filter(pk__in=list(by_owner_id)).values_list(
            "pk", "username", "is_active"
        )
    }
    for owner_id, sums in by_owner_id.items():
        username, active = owners[owner_id]
        by_owner.append(_holder(username, username, sums, scope.query(owner=username), active))
    by_owner.sort(key=lambda h: (-h.vms, h.label))
    totals = {name: sum(sums[name] for sums in by_team_id.values()) for name in _SUMMED}
    totals["total"] = totals.pop("vms")
    totals["unowned"] = sum(row["vms"] for row in groups if row["owner"] is None)
    totals["no_team"] = by_team_id.get(None, {}).get("vms", 0)
    totals["owner_left"] = sum(h.vms for h in by_owner if not h.active)
    return by_team, by_owner, totals


def dashboard_build(
    *, viewer: Any, scope: Scope, limit: int | None = TOP, today: date | None = None
) -> Dashboard:
    """Every block of the dashboard for ``scope`` as seen by ``viewer``.

    ``limit`` caps the ranked and listed blocks (None: every team and owner, for
    exports; the VM lists stay capped at ``TOP``). Costs ``DASHBOARD_QUERIES`` queries.
    """
    today = today or timezone.localdate()
    soon = today + timedelta(days=LEASE_WARNING_DAYS)
    vms = scoped_vms(viewer=viewer, scope=scope)
    by_team, owners, totals = _rankings(_groups(vms, today=today), scope)
    figures = [
        Figure("total", "VMs", totals["total"], scope.query()),
        Figure("owned", "Owned", totals["total"] - totals["unowned"], scope.query(owned="yes")),
        Figure("unowned", "Unowned", totals["unowned"], scope.query(owned="no"), warn=True),
        Figure(
            "owner_left",
            "Owner left",
            totals["owner_left"],
            scope.query(owner_left="yes"),
            warn=True,
        ),
        Figure("dormant", "Dormant", totals["dormant"], scope.query(dormant="yes"), warn=True),
        Figure(
            "lease_expiring",
            f"Lease ends within {LEASE_WARNING_DAYS} days",
            totals["lease_expiring"],
            scope.query(lease="expiring"),
            warn=True,
        ),
        Figure(
            "lease_expired",
            "Lease expired",
            totals["lease_expired"],
            scope.query(lease="expired"),
            warn=True,
        ),
    ]
    if scope.kind != "team":  # within a team's scope every VM has that team
        figures.insert(
            3, Figure("no_team", "No team", totals["no_team"], scope.query(team="none"), warn=True)
        )
    return Dashboard(
        scope=scope,
        today=today,
        figures=figures,
        totals=totals,
        by_team=by_team[:limit],
        # One grouped query serves both rankings (one row per owner, ranked here).
        by_owner=owners[:limit],
        by_resources=sorted(owners, key=lambda h: (-h.mem, -h.cpu, h.label))[:limit],
        unowned=_lines(vms.exclude(owned_q()), "first_seen", "pk", limit=TOP),
        owner_left=_lines(
            vms.filter(current__owner__is_active=False), "current__since", "pk", limit=TOP
        ),
        leases=_lines(
            vms.filter(current__lease_end__lte=soon), "current__lease_end", "pk", limit=TOP
        ),
        sprawl=sprawl_for(viewer=viewer, scope=scope, today=today),
    )


def sprawl_for(*, viewer: Any, scope: Scope, today: date) -> Sprawl:
    """Weekly VM counts per team over the last ``SPRAWL_WEEKS`` weeks, one query.

    Samples are per team: a team page shows its team, "My VMs" the teams the user is in.
    The caller has already checked the viewer may open the scope; the whole-fleet
    scope still goes through ``restrict``.
    """
    start = today - timedelta(weeks=SPRAWL_WEEKS)
    samples = SprawlSample.objects.filter(week__gte=start)
    if scope.kind == "team":
        samples = samples.filter(team=scope.team)
    elif scope.kind == "mine":
        samples = samples.filter(team__memberships__user=scope.user)
    else:
        samples = restrict(samples, viewer)
    rows = samples.values_list("team__name", "week", "vm_count")
    return sprawl_from_samples(list(rows))
