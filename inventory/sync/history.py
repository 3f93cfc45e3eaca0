"""What the cluster's task history says happened to each guest since the last cycle (pure).

A task is *fresh* when this cycle is the first to see it finished: Steward has no row
for it, or stored it while it was still running. Fresh tasks explain this cycle's
changes (why a guest moved, appeared, went, rolled back); older ones already did.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from inventory.proxmox.types import Task
from inventory.sync.state import LocalTask

MIGRATE_TYPES = frozenset({"qmigrate", "vzmigrate", "hamigrate", "harelocate"})
START_TYPES = frozenset({"qmstart", "vzstart", "hastart"})
CREATE_TYPES = frozenset({"qmcreate", "vzcreate"})
RESTORE_TYPES = frozenset({"qmrestore", "vzrestore"})
CLONE_TYPES = {"qmclone": "qemu", "vzclone": "lxc"}
DESTROY_TYPES = frozenset({"qmdestroy", "vzdestroy"})
ROLLBACK_TYPES = frozenset({"qmrollback", "vzrollback"})
SNAPSHOT_TYPES = frozenset({"qmsnapshot", "vzsnapshot"})
DELETE_SNAPSHOT_TYPES = frozenset({"qmdelsnapshot", "vzdelsnapshot"})
BACKUP_TYPES = frozenset({"vzdump"})
# QEMU move_disk runs as ``qmmove``, LXC move_volume as ``move_volume``.
MOVE_DISK_TYPES = frozenset({"qmmove", "move_volume"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def task_vmid(task: Task) -> int | None:
    """The guest a task is about (the UPID's id field), when it names one."""
    return int(task.id) if task.id.isdigit() else None


class TaskHistory:
    """The remote task list indexed by guest, split into fresh and all tasks."""

    def __init__(self, tasks: Iterable[Task], known: Mapping[str, LocalTask]) -> None:
        self.fresh: list[Task] = []
        self._fresh_by_vmid: dict[int, list[Task]] = defaultdict(list)
        self._all_by_vmid: dict[int, list[Task]] = defaultdict(list)
        self.running_by_vmid: dict[int, list[Task]] = defaultdict(list)
        # New guest vmid -> the clone task that made it; filled by the diff once it
        # knows which guests are new (``diff_ledgers.pair_clones``).
        self.clone_pairs: dict[int, Task] = {}
        for task in sorted(tasks, key=lambda t: (t.starttime or _EPOCH, t.upid)):
            vmid = task_vmid(task)
            if vmid is not None:
                self._all_by_vmid[vmid].append(task)
                if task.running:
                    self.running_by_vmid[vmid].append(task)
            stored = known.get(task.upid)
            if not task.running and (stored is None or not stored.finished):
                self.fresh.append(task)
                if vmid is not None:
                    self._fresh_by_vmid[vmid].append(task)

    def fresh_for(self, vmid: int, types: Iterable[str], *, ok: bool = True) -> list[Task]:
        """Fresh tasks about ``vmid`` of ``types`` (successful only, unless ``ok=False``),
        oldest first."""
        wanted = set(types)
        return [
            t
            for t in self._fresh_by_vmid.get(vmid, ())
            if t.type in wanted and (t.ok or not ok or t.status.startswith("WARNINGS"))
        ]

    def latest_fresh(self, vmid: int, types: Iterable[str]) -> Task | None:
        found = self.fresh_for(vmid, types)
        return found[-1] if found else None

    def any_for(self, vmid: int, types: Iterable[str]) -> list[Task]:
        """Every listed task about ``vmid`` of ``types``, fresh or not, oldest first."""
        wanted = set(types)
        return [t for t in self._all_by_vmid.get(vmid, ()) if t.type in wanted]

    def running_migration(self, vmid: int) -> Task | None:
        for task in self.running_by_vmid.get(vmid, ()):
            if task.type in MIGRATE_TYPES:
                return task
        return None

    def fresh_clones(self) -> list[Task]:
        """Fresh successful clone tasks (the UPID's id is the *source* vmid), oldest first."""
        return [t for t in self.fresh if t.type in CLONE_TYPES and t.ok]
