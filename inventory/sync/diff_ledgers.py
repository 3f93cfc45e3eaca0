"""Diff of the snapshot, lineage and rollback ledgers (pure; called by ``inventory.sync.diff``;
copies found in storage listings are ``diff_volumes``'s).

Copies are opened when first seen and closed when their source (a snapshot list, a
storage listing) was read and no longer has them; a source not read this cycle closes
nothing. Full clones are attributed to fresh clone tasks (whose UPID names only the
source): a new guest whose disks are linked to the task's source first, then the rest
in order (tasks by start time, guests by vmid) when the counts match; an ambiguous
pairing records nothing rather than a wrong parent. A clone's target that PVE lists,
locked ``clone``, while its task runs is paired in the cycle its lock goes. A rollback
task records the snapshot it returned to when the config read after it names it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from inventory.parsing import linked_base_vmid
from inventory.proxmox.types import GuestEntry, Task
from inventory.sync.history import (
    CLONE_TYPES,
    CREATE_TYPES,
    DELETE_SNAPSHOT_TYPES,
    DESTROY_TYPES,
    RESTORE_TYPES,
    ROLLBACK_TYPES,
    SNAPSHOT_TYPES,
    TaskHistory,
)
from inventory.sync.state import (
    Changeset,
    ConfigFacts,
    CopyClose,
    CopyOpen,
    Event,
    GuestRef,
    LineageAdd,
    LocalCopy,
    LocalGuest,
    LocalState,
    RemoteState,
    RollbackAdd,
)

#: The lock PVE holds on a clone's target while the clone task runs.
CLONE_LOCK = "clone"


@dataclass(frozen=True)
class Fate:
    """Which vmids get a new row and which row ids go gone in the changeset (for O(1)
    lookups; built once the guests are diffed)."""

    created: frozenset[int]
    gone: frozenset[int]

    @classmethod
    def of(cls, cs: Changeset) -> Fate:
        return cls(frozenset(g.vmid for g in cs.guests_create), frozenset(cs.guests_gone))


def guest_ref(vmid: int, local: LocalState, fate: Fate) -> GuestRef | None:
    """The live guest with ``vmid`` after this changeset, or None if there is none."""
    if vmid in fate.created:
        return GuestRef(vmid)
    known = local.guests.get(vmid)
    if known is not None and known.id not in fate.gone:
        return GuestRef(vmid, known.id)
    return None


def _at(task: Task | None, default: datetime) -> datetime:
    return (task.endtime or task.starttime or default) if task else default


def _linked_parents(config: ConfigFacts | None) -> set[int]:
    if config is None:
        return set()
    return {
        base
        for disk in config.disks
        if (base := linked_base_vmid(disk.volume)) is not None and base != config.vmid
    }


# ---- clones and lineage -----------------------------------------------------------------


def pair_clones(
    new: Iterable[GuestEntry], configs: Mapping[int, ConfigFacts], history: TaskHistory
) -> dict[int, Task]:
    """Attribute fresh clone tasks to new guests (see the module docstring).

    ``new`` also holds known guests whose ``clone`` lock went this cycle: first listed
    while their clone task ran, they are paired now that it has ended.
    """
    pairs: dict[int, Task] = {}
    for kind in ("qemu", "lxc"):
        tasks = [t for t in history.fresh_clones() if CLONE_TYPES[t.type] == kind]
        guests = sorted(
            (
                e
                for e in new
                if e.kind == kind
                and e.lock != CLONE_LOCK  # still being cloned: paired once its task ended
                and not history.fresh_for(e.vmid, (*CREATE_TYPES, *RESTORE_TYPES))
            ),
            key=lambda e: e.vmid,
        )
        for entry in list(guests):
            parents = _linked_parents(configs.get(entry.vmid))
            if not parents:
                continue
            # A linked clone names its parent: it takes that parent's task or none.
            guests.remove(entry)
            match = next((t for t in tasks if t.id.isdigit() and int(t.id) in parents), None)
            if match is not None:
                pairs[entry.vmid] = match
                tasks.remove(match)
        if guests and len(tasks) == len(guests):
            pairs.update((e.vmid, t) for e, t in zip(guests, tasks, strict=True))
    return pairs


def diff_lineage(
    local: LocalState,
    remote: RemoteState,
    guests: Mapping[int, GuestEntry],
    history: TaskHistory,
    cs: Changeset,
    fate: Fate,
) -> None:
    """Lineage (and a ``clone`` copy of the parent) for each new clone this cycle, plus
    linked-clone links found in configs whose digest changed."""
    new_vmids = fate.created
    pairs = history.clone_pairs
    found: dict[tuple[int, int], tuple[str, Task | None]] = {}
    for child, task in pairs.items():
        parent = int(task.id)
        if parent in _linked_parents(remote.configs.get(child)):
            kind = "linked_clone"
        elif _is_template(parent, local, guests):
            kind = "template_of"  # a full clone made from a template
        else:
            kind = "clone"
        found[(parent, child)] = (kind, task)
    changed = new_vmids | {u.vmid for u in cs.guests_update if u.facts is not None}
    for child in changed:
        for parent in _linked_parents(remote.configs.get(child)):
            found.setdefault((parent, child), ("linked_clone", None))
    for (parent, child), (kind, task) in sorted(found.items()):
        parent_ref, child_ref = guest_ref(parent, local, fate), guest_ref(child, local, fate)
        if parent_ref is None or child_ref is None:
            cs.warnings.append(f"guest {child} was cloned from {parent}, which is not known")
            continue
        at = _at(task, cs.now)
        upid = task.upid if task else ""
        cs.lineage_add.append(LineageAdd(parent_ref, child_ref, kind, at, upid))
        fresh = child in new_vmids or child in pairs
        if fresh and ("clone", parent, "", str(child)) not in local.copies:
            cs.copies_open.append(
                CopyOpen(parent_ref, parent, "clone", str(child), at, task_upid=upid)
            )


def _is_template(vmid: int, local: LocalState, guests: Mapping[int, GuestEntry]) -> bool:
    entry = guests.get(vmid)
    if entry is not None:
        return entry.template
    known = local.guests.get(vmid)
    return known is not None and known.template


# ---- snapshots --------------------------------------------------------------------------


def _storage_of(vmid: int, local: LocalState, remote: RemoteState) -> str:
    config = remote.configs.get(vmid)
    known = local.guests.get(vmid)
    names = config.storage_names if config else known.storage_names if known else ()
    return names[0] if len(names) == 1 else ""


def diff_snapshots(
    local: LocalState,
    remote: RemoteState,
    guests: Mapping[int, GuestEntry] | None,
    history: TaskHistory,
    cs: Changeset,
    fate: Fate,
) -> None:
    open_by_vm: dict[int, dict[str, LocalCopy]] = defaultdict(dict)
    for copy in local.copies.values():
        if copy.kind == "snapshot" and copy.vm_id is not None:
            open_by_vm[copy.vm_id][copy.name] = copy
    for vmid, snapshots in remote.snapshots.items():
        ref = guest_ref(vmid, local, fate)
        if ref is None or (guests is not None and vmid not in guests):
            continue
        stored = open_by_vm.get(ref.id, {}) if ref.id is not None else {}
        names = {s.name for s in snapshots}
        added = [s for s in snapshots if s.name not in stored]
        task = history.latest_fresh(vmid, SNAPSHOT_TYPES) if len(added) == 1 else None
        storage = _storage_of(vmid, local, remote)
        for snap in added:
            cs.copies_open.append(
                CopyOpen(
                    ref,
                    vmid,
                    "snapshot",
                    snap.name,
                    snap.snaptime or cs.now,
                    storage=storage,
                    vmstate=snap.vmstate,
                    parent=snap.parent,
                    task_upid=task.upid if task else "",
                )
            )
        removed = [c for name, c in stored.items() if name not in names]
        deleted = history.latest_fresh(vmid, DELETE_SNAPSHOT_TYPES)
        cs.copies_close.extend(CopyClose(c.id, _at(deleted, cs.now)) for c in removed)


def close_copies_of_gone(local: LocalState, history: TaskHistory, cs: Changeset) -> None:
    """A gone guest's snapshots go with it, and so does the ``clone`` copy it embodied."""
    gone = set(cs.guests_gone)
    if not gone:
        return
    by_id = {g.id: g for g in local.guests.values() if g.id in gone}
    for copy in local.copies.values():
        guest: LocalGuest | None = None
        if copy.kind == "snapshot" and copy.vm_id in by_id:
            guest = by_id[copy.vm_id]
        elif copy.kind == "clone" and copy.name.isdigit():
            guest = local.guests.get(int(copy.name))
            guest = guest if guest is not None and guest.id in gone else None
        if guest is not None:
            task = history.latest_fresh(guest.vmid, DESTROY_TYPES)
            cs.copies_close.append(CopyClose(copy.id, _at(task, cs.now)))


# ---- rollbacks --------------------------------------------------------------------------


def diff_rollbacks(
    local: LocalState,
    remote: RemoteState,
    guests: Mapping[int, GuestEntry] | None,
    history: TaskHistory,
    cs: Changeset,
    fate: Fate,
) -> None:
    """A fresh rollback task, or a vmgenid change no rollback task explains, is a rollback."""
    changed = {u.vmid: u for u in cs.guests_update if u.facts is not None}
    for vmid in guests or ():
        known = local.guests.get(vmid)
        if known is None or known.id in fate.gone:
            continue
        old, new = known.vmgenid, changed[vmid].facts.vmgenid if vmid in changed else ""
        vmgenid_changed = bool(old and new and old != new)
        tasks = history.fresh_for(vmid, ROLLBACK_TYPES)
        ref = GuestRef(vmid, known.id)
        returned_to = _rolled_back_to(vmid, remote, history)
        for task in tasks:
            last = task is tasks[-1] and vmgenid_changed
            cs.rollbacks_add.append(
                RollbackAdd(
                    ref,
                    _at(task, cs.now),
                    "task",
                    snapshot_name=returned_to.get(task.upid, ""),
                    task_upid=task.upid,
                    old_vmgenid=old if last else "",
                    new_vmgenid=new if last else "",
                )
            )
        if vmgenid_changed and not tasks and not _explained(known, history):
            cs.rollbacks_add.append(
                RollbackAdd(ref, cs.now, "vmgenid_change", old_vmgenid=old, new_vmgenid=new)
            )
        if tasks or (vmgenid_changed and not _explained(known, history)):
            cs.events.append(
                Event(
                    "inventory.rollback_detected",
                    ref,
                    before={"vmgenid": old},
                    after={"vmgenid": new or old, "task": tasks[-1].upid if tasks else ""},
                )
            )


def _rolled_back_to(vmid: int, remote: RemoteState, history: TaskHistory) -> dict[str, str]:
    """The snapshot the latest rollback task returned to, by its UPID (empty if unknown).

    Neither the UPID nor the task log names the snapshot; PVE's rollback makes it the
    config's ``parent``, so the config read this cycle names it, as long as no snapshot
    was taken or deleted after that rollback (the parent then moved on).
    """
    config = remote.configs.get(vmid)
    tree = history.fresh_for(vmid, (*ROLLBACK_TYPES, *SNAPSHOT_TYPES, *DELETE_SNAPSHOT_TYPES))
    if config is None or not tree or tree[-1].type not in ROLLBACK_TYPES:
        return {}
    names = {s.name for s in remote.snapshots.get(vmid, ())}
    parent = config.values.get("parent", "")
    if not parent or (names and parent not in names):
        return {}
    return {tree[-1].upid: parent}


def _explained(known: LocalGuest, history: TaskHistory) -> bool:
    """Whether a rollback task already recorded explains a vmgenid change seen only now."""
    since = known.config_read_at
    return any(
        since is None or (t.endtime or t.starttime) >= since
        for t in history.any_for(known.vmid, ROLLBACK_TYPES)
    )
