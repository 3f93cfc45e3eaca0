"""The dashboard as data: one JSON shape (exports and the API) and one CSV table.

Both carry exactly what the page shows, scoped and permission-filtered the same way,
plus for every number the link to the filtered VM list. The CSV is one long table
(``section`` says which block a row belongs to) so a spreadsheet can pivot it; cells
that a spreadsheet would run as a formula are neutralised (names are user input).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from governance.core.spreadsheets import spreadsheet_safe
from governance.ownership.dashboard import Dashboard, Holder, VmLine

CSV_COLUMNS = (
    "section",
    "key",
    "label",
    "value",
    "cpu",
    "mem_bytes",
    "disk_bytes",
    "owner",
    "team",
    "lease_end",
    "first_seen",
    "link",
)


def _holder(holder: Holder, list_url: str) -> dict[str, Any]:
    return {
        "key": holder.key,
        "label": holder.label,
        "vms": holder.vms,
        "cpu": holder.cpu,
        "mem_bytes": holder.mem,
        "disk_bytes": holder.disk,
        "active": holder.active,
        "link": f"{list_url}?{holder.query}",
    }


def _line(line: VmLine) -> dict[str, Any]:
    return {
        "id": line.pk,
        "name": line.name,
        "vmid": line.vmid,
        "cluster": line.cluster,
        "first_seen": line.first_seen.isoformat(),
        "owner": line.owner,
        "team": line.team,
        "lease_end": line.lease_end.isoformat() if line.lease_end else None,
    }


def dashboard_as_dict(dashboard: Dashboard, *, list_url: str) -> dict[str, Any]:
    """The dashboard as JSON-ready data; ``list_url`` is the VM list the links point at."""
    scope = dashboard.scope
    return {
        "scope": {
            "kind": scope.kind,
            "label": scope.label,
            "team": scope.team.slug if scope.team is not None else None,
        },
        "date": dashboard.today.isoformat(),
        "figures": [
            {"key": f.key, "label": f.label, "value": f.value, "link": f"{list_url}?{f.query}"}
            for f in dashboard.figures
        ],
        "resources": {
            "cpu": dashboard.totals.get("cpu", 0),
            "mem_bytes": dashboard.totals.get("mem", 0),
        },
        "by_team": [_holder(h, list_url) for h in dashboard.by_team],
        "by_owner": [_holder(h, list_url) for h in dashboard.by_owner],
        "by_resources": [_holder(h, list_url) for h in dashboard.by_resources],
        "unowned_oldest": [_line(v) for v in dashboard.unowned],
        "owner_left": [_line(v) for v in dashboard.owner_left],
        "leases": [_line(v) for v in dashboard.leases],
        "sprawl": {
            "weeks": [week.isoformat() for week in dashboard.sprawl.weeks],
            "series": [
                {"label": s.label, "values": list(s.values)} for s in dashboard.sprawl.series
            ],
        },
    }


def dashboard_csv_rows(dashboard: Dashboard, *, list_url: str) -> Iterator[list[Any]]:
    """The CSV rows, header first, in the page's order of blocks."""
    data = dashboard_as_dict(dashboard, list_url=list_url)
    yield list(CSV_COLUMNS)
    for figure in data["figures"]:
        yield _row("figures", figure["key"], figure["label"], figure["value"], link=figure["link"])
    for section in ("by_team", "by_owner", "by_resources"):
        for h in data[section]:
            yield _row(
                section,
                h["key"],
                h["label"],
                h["vms"],
                cpu=h["cpu"],
                mem_bytes=h["mem_bytes"],
                disk_bytes=h["disk_bytes"],
                link=h["link"],
            )
    for section in ("unowned_oldest", "owner_left", "leases"):
        for v in data[section]:
            yield _row(
                section,
                v["id"],
                f"{v['cluster']}/{v['vmid']} {v['name']}".strip(),
                "",
                owner=v["owner"],
                team=v["team"],
                lease_end=v["lease_end"] or "",
                first_seen=v["first_seen"],
            )
    sprawl = data["sprawl"]
    for series in sprawl["series"]:
        for week, count in zip(sprawl["weeks"], series["values"], strict=True):
            yield _row("sprawl", series["label"], week, count)


def _row(section: str, key: Any, label: Any, value: Any, **extra: Any) -> list[Any]:
    cells = {"section": section, "key": key, "label": label, "value": value, **extra}
    return [spreadsheet_safe(cells.get(column, "")) for column in CSV_COLUMNS]


def dashboard_csv(dashboard: Dashboard, *, list_url: str) -> str:
    """The whole CSV document (the dashboard is small: a few hundred rows at most)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(dashboard_csv_rows(dashboard, list_url=list_url))
    return buffer.getvalue()
