"""Reading the ownership dashboard: one set of building blocks for three scopes.

The admin dashboard (every VM), a manager's team page and an end user's "My VMs" show
the same blocks: totals, counts by team and by owner, top owners by resources, the
oldest unowned VMs, VMs whose owner left, leases ending soon, and sprawl over time.

Invariants:
- Every block starts from ``restrict`` (so a scope never shows a VM its viewer may not
  see) and is one SQL query whatever the fleet size: the whole dashboard costs a fixed
  number of queries (``DASHBOARD_QUERIES``), with filtering and grouping in SQL.
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

from django.db.models import Count, F, FilteredRelation, Q, QuerySet, Sum
from django.utils import timezone

from governance.accounts.models import Team
from governance.core.permissions import restrict
from governance.ownership.charts import Sprawl, sprawl_from_samples
from governance.ownership.models import Ownership, SprawlSample
from inventory.models import VirtualMachine
from inventory.selectors.guests import dormant_since

LEASE_WARNING_DAYS = 14
SPRAWL_WEEKS = 26
TOP = 10
# by team (with the totals), by owner (both rankings), unowned, owner left, leases, sprawl.
DASHBOARD_QUERIES = 6

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


def scope_q(scope: Scope) -> Q:
    """The scope's condition over a queryset that has ``current`` joined.

    Team and "mine" scopes are ``pk IN (current rows of that team / person)``: the partial
    indexes on current rows find those few VMs first, so the permission subqueries run
    over them only, not over the whole fleet.
    """
    current = Ownership.objects.filter(until__isnull=True)
    if scope.kind == "team":
        return Q(pk__in=current.filter(team=scope.team).values("vm_id"))
    if scope.kind == "mine":
        mine = current.filter(Q(owner=scope.user) | Q(custodian=scope.user))
        return Q(pk__in=mine.values("vm_id"))
    return Q()


def scoped_vms(*, viewer: Any, scope: Scope) -> QuerySet[VirtualMachine]:
    """Live VMs ``viewer`` may see within ``scope``, with ``current`` joined.

    The fleet scope goes through ``restrict``. A team scope is only opened by the team's
    managers or fleet readers (``views.dashboards.team_scope``) and "mine" only by its
    user, and ownership's visibility rule shows exactly those people every VM of the
    scope; ``restrict`` would add nothing but its OR of subqueries, which makes
    PostgreSQL scan the whole fleet for every block (``test_scopes_match_restrict``
    pins the equivalence).
    """
    live = VirtualMachine.objects.filter(gone_since__isnull=True)
    if scope.kind == "all":
        return with_current(restrict(live, viewer))
    return with_current(live.filter(scope_q(scope)))


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


def _holders(
    queryset: QuerySet[VirtualMachine],
    *,
    key: str,
    label: str,
    param: str,
    order: tuple[str, ...],
    scope: Scope,
    limit: int | None,
    active: str | None = None,
    counts: dict[str, Q] | None = None,
    rows_out: list[dict] | None = None,
) -> list[Holder]:
    """One grouped query; ``counts`` adds filtered counts per group, and ``rows_out``
    receives every raw row (so totals can be summed without another scan)."""
    fields = list(dict.fromkeys([key, label, *([active] if active else [])]))
    extra = {name: Count("pk", filter=q) for name, q in (counts or {}).items()}
    grouped = (
        queryset.values(*fields)
        .annotate(
            vms=Count("pk"), cpu=Sum("maxcpu"), mem=Sum("maxmem"), disk=Sum("maxdisk"), **extra
        )
        .order_by(*order, label)
    )
    rows = list(grouped if limit is None else grouped[:limit])
    if rows_out is not None:
        rows_out.extend(rows)
    return [
        Holder(
            key=row[key] or "",
            label=row[label] or "",
            vms=row["vms"],
            cpu=row["cpu"] or 0,
            mem=row["mem"] or 0,
            disk=row["disk"] or 0,
            query=scope.query(**{param: row[key] or "none"}),
            active=row[active] if active else True,
        )
        for row in rows
    ]


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
    unowned = Q(current__owner__isnull=True)
    owner_left = Q(current__owner__is_active=False)
    expiring = Q(current__lease_end__gte=today, current__lease_end__lte=soon)
    expired = Q(current__lease_end__lt=today)
    # Totals are sums over the per-team rows and the per-owner rows: two scans of the
    # fleet serve the figures and both rankings.
    team_rows: list[dict] = []
    by_team = _holders(
        vms,
        key="current__team__slug",
        label="current__team__name",
        param="team",
        order=("-vms",),
        scope=scope,
        limit=None,
        counts={
            "dormant": dormant_q(),
            "lease_expiring": expiring,
            "lease_expired": expired,
            "unowned": unowned,
        },
        rows_out=team_rows,
    )
    owners = _holders(
        vms.filter(current__owner__isnull=False),
        key="current__owner__username",
        label="current__owner__username",
        param="owner",
        order=("-vms",),
        scope=scope,
        limit=None,
        active="current__owner__is_active",
    )
    totals = {
        name: sum(row[name] or 0 for row in team_rows)
        for name in ("dormant", "lease_expiring", "lease_expired", "unowned", "cpu", "mem")
    }
    totals["total"] = sum(h.vms for h in by_team)
    totals["no_team"] = sum(h.vms for h in by_team if not h.key)
    totals["owner_left"] = sum(h.vms for h in owners if not h.active)
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
        unowned=_lines(vms.filter(unowned), "first_seen", "pk", limit=TOP),
        owner_left=_lines(vms.filter(owner_left), "current__since", "pk", limit=TOP),
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
