"""Load remote: read one cluster into a ``RemoteState`` at a cost that does not grow with guests.

Per cycle the loader makes one ``/version``, one ``/cluster/resources`` and one
``/cluster/tasks`` read, one content listing per storage (per node for node-local
storage), and one read each of backup jobs, HA resources, HA rules (PVE 9) or groups
(PVE 8) and the ACL. Per-guest reads (config, and the snapshot list when the config
digest moved) happen only for guests that :func:`select_config_reads` picks: new ones,
ones whose node/status/tags/lock/template changed, ones a new task names, and a rolling
share of the oldest configs so that none is older than ``max_config_age``.

Failure never shrinks what Steward knows: a part that failed is left ``None`` (or absent
from the per-guest/per-storage mappings) with a sentence in ``errors``; see
:mod:`inventory.sync.state`. A guest whose own read fails (typically 404 because it was
just destroyed or migrated) is simply not re-read this cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from inventory.proxmox import ProxmoxGateway
from inventory.proxmox.types import Resources
from inventory.sync.history import MIGRATE_TYPES
from inventory.sync.remote_plan import (
    MAX_CONFIG_AGE,
    ReadPlan,
    select_config_reads,
    touched_by_tasks,
)
from inventory.sync.remote_reader import Progress, Reader
from inventory.sync.state import LocalState, LocalTask, RemoteState

__all__ = [
    "MAX_CONFIG_AGE",
    "KnownTasks",
    "Progress",
    "ReadPlan",
    "Reader",
    "load_remote",
    "select_config_reads",
    "touched_by_tasks",
]

#: Given the UPIDs the cluster listed, the ones Steward already stored (``with_tasks``).
KnownTasks = Callable[[Iterable[str]], Mapping[str, LocalTask]]


def load_remote(
    gateway: ProxmoxGateway,
    *,
    local: LocalState,
    now: datetime,
    full: bool = False,
    progress: Progress | None = None,
    known_tasks: KnownTasks | None = None,
    cycle: timedelta = timedelta(seconds=60),
    max_config_age: timedelta = MAX_CONFIG_AGE,
) -> RemoteState:
    """Read one cluster (see the module docstring); never raises a ``ProxmoxError``.

    ``known_tasks`` looks up which listed UPIDs are already stored; without it the
    loader uses ``local.tasks``. ``cycle`` is the sync interval, which sizes the rolling
    re-read share.
    """
    calls_before = dict(gateway.calls)
    reader = Reader(gateway, progress=progress)
    state: dict[str, Any] = {"read_at": now}

    version = reader.read("the version", gateway.version)
    if version is None:
        return reader.finish(state, calls_before)
    state["version"] = version.version
    resources: Resources | None = reader.read("guests, nodes and storage", gateway.resources)
    if resources is None:
        return reader.finish(state, calls_before)
    if not resources.guests and local.guests:
        # A token that lost VM.Audit gets 200 with no guests, not an error.
        reader.error(
            f"the cluster listed no guests while Steward knows {len(local.guests)}; "
            "the API token has probably lost its rights (it needs PVEAuditor on /). "
            "Nothing was marked gone."
        )
    else:
        state["guests"] = resources.guests
    state.update(nodes=resources.nodes, storages=resources.storages, pools=resources.pools)
    online = {n.name for n in resources.nodes if n.status == "online"}

    tasks = reader.read("the task history", gateway.tasks)
    touched: set[int] = set()
    migrated: set[int] = set()
    if tasks is not None:
        state["tasks"] = tuple(tasks)
        known = known_tasks([t.upid for t in tasks]) if known_tasks else local.tasks
        touched = touched_by_tasks(tasks, known)
        migrated = touched_by_tasks([t for t in tasks if t.type in MIGRATE_TYPES], known)

    if "guests" in state:
        listed = {g.vmid for g in resources.guests}
        missing = [g for vmid, g in local.guests.items() if vmid not in listed]
        state["absent"] = reader.absent(missing, online=online, migrated=migrated)

    if "guests" in state:
        plan = select_config_reads(
            local=local,
            guests=resources.guests,
            online_nodes=online,
            touched_vmids=touched,
            now=now,
            full=full,
            cycle=cycle,
            max_age=max_config_age,
        )
        for note in plan.skipped:
            reader.error(note)
        configs, snapshots = reader.guests(plan.guests, local=local, now=now, full=full)
        state.update(configs=configs, snapshots=snapshots)
    state["volumes"] = reader.storage(resources.storages, online)

    state["backup_jobs"] = reader.facts("backup jobs", gateway.backup_jobs)
    state["ha_resources"] = reader.facts("HA resources", gateway.ha_resources)
    if version.major >= 9:
        state["ha_rules"] = reader.facts("HA rules", gateway.ha_rules)
    else:
        state["ha_groups"] = reader.facts("HA groups", gateway.ha_groups)
    state["acl"] = reader.facts("ACL entries", gateway.acl)
    return reader.finish(state, calls_before)
