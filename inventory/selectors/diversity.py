"""The OS diversity report: live guests a user may see, counted by OS release and team.

One grouped query (a few dozen rows whatever the estate's size) over ``restrict``'s
queryset, so managers count their teams' guests and end users their own; the release
and its end of life are matched in Python per group (``inventory.selectors.os_releases``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, FilteredRelation, Max, Q
from django.utils import timezone

from inventory.selectors.guests import vm_visible
from inventory.selectors.os_releases import OSTYPE_LABELS, release_match, releases_load

NO_TEAM = "(no team)"


@dataclass
class OsGroup:
    """Guests that report the same OS (agent) or, without an agent answer, the same ostype."""

    key: str
    family: str
    version: str
    source: str  # "agent" or "config"
    release: str = ""
    end_of_life: date | None = None
    eol: bool = False
    count: int = 0
    teams: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DiversityReport:
    groups: list[OsGroup]
    teams: list[str]
    total: int
    eol_total: int
    today: date


def _describe(kind: str, ostype: str, os_id: str, name: str, version: str) -> tuple[str, ...]:
    if os_id:
        return f"{os_id}:{version}", name or os_id, version or "?", "agent"
    if kind == "lxc":
        return f"ostype:{ostype}", f"{ostype or 'unknown'} (container)", "?", "config"
    return f"ostype:{ostype}", OSTYPE_LABELS.get(ostype, ostype or "unknown"), "?", "config"


def os_diversity(*, user: Any, today: date | None = None) -> DiversityReport:
    """Counts per OS group and team for ``user``; end-of-life groups first."""
    today = today or timezone.localdate()
    rows = (
        vm_visible(user=user)
        .filter(gone_since__isnull=True, template=False)
        .annotate(current=FilteredRelation("ownerships", condition=Q(ownerships__until=None)))
        .values("kind", "ostype", "osinfo__os_id", "osinfo__version_id", "current__team__name")
        .annotate(n=Count("id"), name=Max("osinfo__name"))
        .order_by()
    )
    releases = releases_load()
    groups: dict[str, OsGroup] = {}
    teams: set[str] = set()
    for row in rows:
        os_id = row["osinfo__os_id"] or ""
        version = row["osinfo__version_id"] or ""
        key, family, shown, source = _describe(
            row["kind"], row["ostype"], os_id, row["name"] or "", version
        )
        group = groups.get(key)
        if group is None:
            release = release_match(releases, os_id=os_id, version_id=version, ostype=row["ostype"])
            group = groups[key] = OsGroup(key, family, shown, source)
            if release is not None:
                group.release, group.end_of_life = release.label, release.end_of_life
                group.eol = release.ended(today)
        team = row["current__team__name"] or NO_TEAM
        teams.add(team)
        group.count += row["n"]
        group.teams[team] = group.teams.get(team, 0) + row["n"]
    ordered = sorted(groups.values(), key=lambda g: (not g.eol, g.family, g.version))
    return DiversityReport(
        groups=ordered,
        teams=sorted(teams, key=lambda t: (t == NO_TEAM, t)),
        total=sum(g.count for g in ordered),
        eol_total=sum(g.count for g in ordered if g.eol),
        today=today,
    )


def diversity_rows(report: DiversityReport) -> list[list[Any]]:
    """The report as CSV rows: a header, one row per group with one column per team."""
    header = ["os", "version", "source", "release", "end_of_life", "eol", "count"]
    out: list[list[Any]] = [[*header, *report.teams]]
    for group in report.groups:
        out.append(
            [
                group.family,
                group.version,
                group.source,
                group.release,
                group.end_of_life.isoformat() if group.end_of_life else "",
                "yes" if group.eol else "no",
                group.count,
                *(group.teams.get(team, 0) for team in report.teams),
            ]
        )
    return out
