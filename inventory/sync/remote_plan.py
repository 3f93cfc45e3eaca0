"""Which guest configs one sync cycle re-reads (pure): new, changed, task-touched, rolling.

Used by :func:`inventory.sync.remote.load_remote`; the cost model is in its docstring.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from inventory.proxmox.types import GuestEntry, Task
from inventory.sync.state import LocalState, LocalTask

MAX_CONFIG_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class ReadPlan:
    """Which guests get their config re-read this cycle, and why (for the run's stats)."""

    guests: tuple[GuestEntry, ...]
    reasons: Mapping[str, int]
    skipped: tuple[str, ...] = ()


def select_config_reads(
    *,
    local: LocalState,
    guests: Iterable[GuestEntry],
    online_nodes: set[str],
    touched_vmids: set[int],
    now: datetime,
    full: bool = False,
    cycle: timedelta = timedelta(seconds=60),
    max_age: timedelta = MAX_CONFIG_AGE,
) -> ReadPlan:
    """Pick the guests whose config to read (pure).

    Guests on offline nodes are never picked (PVE cannot proxy to them); a vmid listed
    twice (mid-migration) is skipped with a note, its node being ambiguous. The rolling
    share is ``ceil(live guests * cycle / max_age)`` of the oldest remaining configs plus
    every config already older than ``max_age``, so a config is re-read at least once
    per ``max_age`` while a cycle costs the same whatever else happened.
    """
    counts = Counter(g.vmid for g in guests)
    picked: dict[int, GuestEntry] = {}
    reasons: Counter[str] = Counter()
    skipped: list[str] = []
    candidates: list[GuestEntry] = []
    for entry in guests:
        if counts[entry.vmid] > 1:
            continue
        if entry.node not in online_nodes:
            continue
        known = local.guests.get(entry.vmid)
        if full:
            reason = "full"
        elif known is None or known.kind != entry.kind:
            reason = "new"
        elif (known.node, known.status, known.tags, known.lock, known.template) != (
            entry.node,
            entry.status,
            entry.tags,
            entry.lock,
            entry.template,
        ):
            reason = "changed"
        elif entry.vmid in touched_vmids:
            reason = "task"
        elif known.config_read_at is None or not known.config_digest:
            reason = "unread"
        else:
            candidates.append(entry)
            continue
        picked[entry.vmid] = entry
        reasons[reason] += 1
    for vmid in sorted(v for v, n in counts.items() if n > 1):
        nodes = sorted(g.node for g in guests if g.vmid == vmid)
        skipped.append(
            f"vmid {vmid} is listed {counts[vmid]} times (nodes {', '.join(nodes)}), "
            "probably mid-migration; its config was not re-read this cycle"
        )
    if candidates:
        share = math.ceil(len(counts) * cycle / max_age)
        candidates.sort(key=lambda e: local.guests[e.vmid].config_read_at or now)
        stale_before = now - max_age + cycle
        for index, entry in enumerate(candidates):
            read_at = local.guests[entry.vmid].config_read_at or now
            if index >= share and read_at > stale_before:
                break
            picked[entry.vmid] = entry
            reasons["rolling"] += 1
    return ReadPlan(tuple(picked.values()), dict(reasons), tuple(skipped))


def touched_by_tasks(tasks: Iterable[Task], known: Mapping[str, LocalTask]) -> set[int]:
    """Vmids named by tasks Steward has not stored yet, or that finished since it did."""
    touched = set()
    for task in tasks:
        stored = known.get(task.upid)
        if stored is not None and (stored.finished or task.running):
            continue
        if task.id.isdigit():
            touched.add(int(task.id))
    return touched
