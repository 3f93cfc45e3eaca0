"""Residency decisions of the sync diff (pure): a guest moved node, moved storage, or went.

Called by :mod:`inventory.sync.diff`; the invariants are described there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from inventory.proxmox.types import GuestEntry, Task
from inventory.sync.history import (
    DESTROY_TYPES,
    MIGRATE_TYPES,
    MOVE_DISK_TYPES,
    START_TYPES,
    TaskHistory,
)
from inventory.sync.state import (
    Changeset,
    ConfigFacts,
    Event,
    GuestRef,
    LocalGuest,
    RemoteState,
    ResidencyClose,
    ResidencyOpen,
)


def storage_move(
    known: LocalGuest, entry: GuestEntry, config: ConfigFacts, history: TaskHistory, cs: Changeset
) -> None:
    """Its disks now live on another set of storages (``move_disk``/``move_volume``, or a
    disk added or removed): the stay on this node continues with the new storage set."""
    task = history.latest_fresh(known.vmid, MOVE_DISK_TYPES)
    reside(known, entry.node, config.storage_names, "storage_move", task, cs)
    cs.events.append(
        Event(
            "inventory.guest_storage_moved",
            GuestRef(known.vmid, known.id),
            before={"storages": list(known.storage_names)},
            after={"storages": list(config.storage_names), "task": task.upid if task else ""},
        )
    )


def move(
    known: LocalGuest,
    entry: GuestEntry,
    config: ConfigFacts | None,
    remote: RemoteState,
    history: TaskHistory,
    cs: Changeset,
) -> None:
    cause, task = move_cause(known, entry, remote, history)
    storages = config.storage_names if config else known.storage_names
    reside(known, entry.node, storages, cause, task, cs)
    if known.residency_id is not None:
        cs.events.append(
            Event(
                "inventory.guest_moved",
                GuestRef(known.vmid, known.id),
                before={"node": known.residency_node},
                after={"node": entry.node, "cause": cause, "task": task.upid if task else ""},
            )
        )


def reside(
    known: LocalGuest,
    node: str,
    storages: tuple[str, ...],
    cause: str,
    task: Task | None,
    cs: Changeset,
) -> None:
    """Close ``known``'s open residency (if any) and open the next one, at the task's end."""
    at = task_end(task, cs.now)
    if known.residency_id is not None:
        cs.residencies_close.append(ResidencyClose(known.residency_id, at))
    cs.residencies_open.append(
        ResidencyOpen(
            guest=GuestRef(known.vmid, known.id),
            node=node,
            started_at=at,
            cause=cause,
            task_upid=task.upid if task else "",
            storage_names=storages,
        )
    )


def move_cause(
    known: LocalGuest, entry: GuestEntry, remote: RemoteState, history: TaskHistory
) -> tuple[str, Task | None]:
    if known.residency_id is None:
        return "discovered", None
    if task := history.latest_fresh(known.vmid, MIGRATE_TYPES):
        return "migrate", task
    if task := history.running_migration(known.vmid):
        return "migrate", task
    old_node_failed = any(
        n.name == known.residency_node and n.status != "online" for n in remote.nodes or ()
    )
    ha_managed = bool(entry.hastate or known.hastate) or any(
        r.vmid == known.vmid for r in remote.ha_resources or ()
    )
    starts = [t for t in history.fresh_for(known.vmid, START_TYPES) if t.node == entry.node]
    if (ha_managed or old_node_failed) and (starts or old_node_failed):
        return "ha_recovery", starts[-1] if starts else None
    if starts:
        return "start", starts[-1]
    return "discovered", None


def mark_gone(
    known: LocalGuest, history: TaskHistory, cs: Changeset, *, action: str, reason: str
) -> None:
    destroy = history.latest_fresh(known.vmid, DESTROY_TYPES)
    at = task_end(destroy, cs.now)
    cs.guests_gone.append(known.id)
    if known.residency_id is not None:
        cs.residencies_close.append(ResidencyClose(known.residency_id, at))
    after: dict[str, Any] = {"task": destroy.upid if destroy else ""}
    if reason:
        after["reason"] = reason
    cs.events.append(
        Event(
            action,
            GuestRef(known.vmid, known.id),
            before={"node": known.node, "name": known.name},
            after=after,
        )
    )


def task_end(task: Task | None, default: datetime) -> datetime:
    if task is None:
        return default
    return task.endtime or task.starttime or default
