"""The sync's pure core: ``diff(local, remote, now=...) -> Changeset``.

No ORM, no network, no clock: the same inputs always give the same changeset, and an
unchanged estate gives an empty one (so a steady-state cycle writes nothing).

Invariants:

- Nothing is marked gone, deleted or closed because of a part the remote did not read
  (``None``/absent, see ``inventory.sync.state``) or read as suspiciously empty. A guest
  missing from the list goes gone only when a direct read confirmed it does not exist
  (``RemoteState.absent``): PVE hides the guests a token lost its rights on.
- A vmid PVE lists twice (during a migration) is resolved to one entry: the target of
  the running migration, else the running entry, else the node Steward already knew.
- Same vmid, different identity (other kind, a fresh destroy task while the vmid still
  exists, or another SMBIOS UUID with a fresh create or restore task) is a reuse: the
  old row goes, a new row starts. Another SMBIOS UUID alone is the same guest whose
  identity an admin changed: the row stays, an ``inventory.identity_changed`` event
  records the old and new UUID.
- A changed storage set on the same node (a moved, added or removed disk) closes the
  residency and opens one with cause ``storage_move`` (task: the fresh move_disk or
  move_volume task, if any).
- A node move gets its cause from the task history: a migrate task -> ``migrate``; a
  start on the new node of an HA-managed guest or after its node failed -> ``ha_recovery``;
  another start -> ``start``; no task -> ``discovered``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from inventory.proxmox.types import GuestEntry
from inventory.sync import diff_ledgers, diff_residency, diff_volumes
from inventory.sync.diff_mirror import (
    diff_cluster_objects,
    diff_nodes,
    diff_pools,
    diff_storages,
    diff_tasks,
    trusted_empty,
)
from inventory.sync.history import (
    CREATE_TYPES,
    DESTROY_TYPES,
    RESTORE_TYPES,
    START_TYPES,
    TaskHistory,
)
from inventory.sync.state import (
    Absence,
    Changeset,
    ConfigFacts,
    Event,
    GuestNew,
    GuestRef,
    GuestUpdate,
    LocalGuest,
    LocalState,
    RemoteState,
    ResidencyOpen,
)

RUNNING = "running"
# Above this many appearances in one cycle, one summary event replaces per-guest events.
EVENT_LIMIT = 50
# Per-guest audit actions that a mass change (a node lost, a pool wiped) turns into one
# summary event with the vmids, so one cycle cannot flood the audit log.
_SUMMARISED = {
    "inventory.guest_gone": "inventory.guests_gone",
    "inventory.guest_moved": "inventory.guests_moved",
    "inventory.guest_storage_moved": "inventory.guests_storage_moved",
}


def diff(local: LocalState, remote: RemoteState, *, now: datetime) -> Changeset:
    """Every write that brings ``local`` in line with ``remote``; see the module invariants."""
    cs = Changeset(now=now)
    history = TaskHistory(remote.tasks or (), local.tasks)
    diff_nodes(local, remote, cs)
    diff_storages(local, remote, cs)
    diff_pools(local, remote, cs)
    diff_tasks(local, remote, cs)
    diff_cluster_objects(local, remote, cs)
    guests = None
    if remote.guests is not None:
        guests = resolve_duplicates(remote.guests, history, local, cs)
        _diff_guests(local, remote, guests, history, cs)
    fate = diff_ledgers.Fate.of(cs)
    if guests is not None:
        diff_ledgers.diff_lineage(local, remote, guests, history, cs, fate)
        diff_ledgers.close_copies_of_gone(local, history, cs)
    diff_ledgers.diff_snapshots(local, remote, guests, history, cs, fate)
    diff_volumes.diff_volumes(local, remote, guests, cs, fate)
    diff_ledgers.diff_rollbacks(local, remote, guests, history, cs, fate)
    for action, summary in _SUMMARISED.items():
        _summarise(cs, action, summary, cluster_id=local.cluster_id)
    cs.stats.update(
        guests_seen=len(guests or ()),
        guests_created=len(cs.guests_create),
        guests_updated=len(cs.guests_update),
        guests_gone=len(cs.guests_gone),
        configs_read=len(remote.configs),
    )
    return cs


def resolve_duplicates(
    entries: tuple[GuestEntry, ...], history: TaskHistory, local: LocalState, cs: Changeset
) -> dict[int, GuestEntry]:
    """One entry per vmid (see the module invariants); each duplicate gives a warning."""
    by_vmid: dict[int, list[GuestEntry]] = defaultdict(list)
    for entry in entries:
        by_vmid[entry.vmid].append(entry)
    resolved: dict[int, GuestEntry] = {}
    for vmid, found in by_vmid.items():
        if len(found) == 1:
            resolved[vmid] = found[0]
            continue
        known = local.guests.get(vmid)
        migration = history.running_migration(vmid)
        # A migrate task runs on the source node, so its target is the other entry.
        candidates = [
            *(e for e in found if migration and e.node != migration.node),
            *(e for e in found if e.status == RUNNING),
            *(e for e in found if known and e.node == known.node),
            *sorted(found, key=lambda e: e.node),
        ]
        resolved[vmid] = candidates[0]
        nodes = ", ".join(sorted(e.node for e in found))
        cs.warnings.append(
            f"vmid {vmid} is listed on several nodes ({nodes}); kept {candidates[0].node}"
        )
    return resolved


def _entry_fields(entry: GuestEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "name": entry.name,
        "node": entry.node,
        "status": entry.status,
        "tags": entry.tags,
        "pool": entry.pool,
        "template": entry.template,
        "lock": entry.lock,
        "hastate": entry.hastate,
        "maxcpu": entry.maxcpu,
        "maxmem": entry.maxmem,
        "maxdisk": entry.maxdisk,
    }


def _config_fields(config: ConfigFacts) -> dict[str, Any]:
    return {
        "config": dict(config.values),
        "config_pending": dict(config.pending),
        "config_digest": config.digest,
        "config_read_at": config.read_at,
        "vmgenid": config.vmgenid,
        "smbios_uuid": config.smbios_uuid,
        "ostype": config.ostype,
        "agent_enabled": config.agent_enabled,
        "has_rng": config.has_rng,
    }


def _storable(fields: dict[str, Any]) -> dict[str, Any]:
    """Tags as the JSON list plus the searchable text column."""
    if "tags" in fields:
        fields["tags"] = list(fields["tags"])
        fields["tags_text"] = ";".join(fields["tags"])
    return fields


def _is_reuse(
    known: LocalGuest, entry: GuestEntry, config: ConfigFacts | None, history: TaskHistory
) -> str:
    """Why the guest behind this vmid is a different one, or "" when it is the same."""
    if known.kind != entry.kind:
        return f"kind changed from {known.kind} to {entry.kind}"
    if history.fresh_for(known.vmid, DESTROY_TYPES):
        return "destroyed and created again"
    # An admin may set another SMBIOS UUID on the same guest (see ``_identity_event``);
    # only with a fresh create or restore of the vmid is it another guest.
    if _uuid_changed(known, config) and history.fresh_for(
        known.vmid, (*CREATE_TYPES, *RESTORE_TYPES)
    ):
        return "SMBIOS UUID changed by a new create or restore"
    return ""


def _uuid_changed(known: LocalGuest, config: ConfigFacts | None) -> bool:
    return bool(config and known.smbios_uuid and config.smbios_uuid not in ("", known.smbios_uuid))


def _identity_event(known: LocalGuest, config: ConfigFacts | None, cs: Changeset) -> None:
    """The same guest (same vmid, never gone, no create, restore or destroy task) now
    says it is another machine: the record stays and the audit trail keeps the change."""
    if config is not None and _uuid_changed(known, config):
        cs.events.append(
            Event(
                "inventory.identity_changed",
                GuestRef(known.vmid, known.id),
                before={"smbios_uuid": known.smbios_uuid},
                after={"smbios_uuid": config.smbios_uuid},
            )
        )


def _diff_guests(
    local: LocalState,
    remote: RemoteState,
    guests: dict[int, GuestEntry],
    history: TaskHistory,
    cs: Changeset,
) -> None:
    first_sync = not local.guests
    reused = {
        vmid: reason
        for vmid, entry in guests.items()
        if (known := local.guests.get(vmid)) is not None
        and (reason := _is_reuse(known, entry, remote.configs.get(vmid), history))
    }
    if not first_sync:
        new = [e for vmid, e in guests.items() if vmid not in local.guests or vmid in reused]
        # PVE lists a clone's target, locked ``clone``, from the moment its task starts;
        # one first seen that way is paired when its lock goes, maybe cycles later.
        cloned = [
            e
            for vmid, e in guests.items()
            if (known := local.guests.get(vmid)) is not None
            and vmid not in reused
            and known.lock == diff_ledgers.CLONE_LOCK != e.lock
        ]
        history.clone_pairs = diff_ledgers.pair_clones([*new, *cloned], remote.configs, history)
    appeared: list[int] = []
    for vmid, entry in guests.items():
        known = local.guests.get(vmid)
        config = remote.configs.get(vmid)
        if known is not None and vmid in reused:
            diff_residency.mark_gone(
                known, history, cs, action="inventory.vmid_reused", reason=reused[vmid]
            )
            known = None
        if known is None:
            _create_guest(entry, config, history, cs, first_sync=first_sync)
            appeared.append(vmid)
        else:
            _update_guest(known, entry, config, remote, history, cs)
    if trusted_empty(guests, local.guests):
        unconfirmed = []
        for vmid, known in local.guests.items():
            if vmid in guests:
                continue
            if remote.absent.get(vmid) == Absence.GONE:
                diff_residency.mark_gone(
                    known, history, cs, action="inventory.guest_gone", reason=""
                )
            elif vmid not in remote.absent:
                unconfirmed.append(vmid)
        if unconfirmed:  # the loader explains the ones it read (see RemoteState.absent)
            cs.warnings.append(
                f"{len(unconfirmed)} known guests are no longer listed and were not confirmed"
                " gone by a direct read; none was marked gone"
            )
    elif local.guests:
        cs.warnings.append(
            f"the cluster listed no guests while {len(local.guests)} are known;"
            " none was marked gone (does the token still have VM.Audit?)"
        )
    if first_sync or len(appeared) > EVENT_LIMIT:
        if appeared:
            cs.events.append(Event("inventory.guests_discovered", after={"count": len(appeared)}))
    else:
        cs.events.extend(
            Event("inventory.guest_appeared", GuestRef(vmid), after={"node": guests[vmid].node})
            for vmid in appeared
        )


def _create_guest(
    entry: GuestEntry,
    config: ConfigFacts | None,
    history: TaskHistory,
    cs: Changeset,
    *,
    first_sync: bool,
) -> None:
    fields = _storable(_entry_fields(entry))
    fields.update(first_seen=cs.now, last_seen=cs.now)
    if entry.status == RUNNING:
        fields["last_running"] = cs.now
    if config is not None:
        fields.update(_config_fields(config))
        cs.new_guest_facts[entry.vmid] = config
    cs.guests_create.append(GuestNew(entry.vmid, fields))
    cause, task = "discovered", None
    if not first_sync:
        for types, name in (
            (RESTORE_TYPES, "restore"),
            (CREATE_TYPES, "create"),
            (START_TYPES, "start"),
        ):
            if task := history.latest_fresh(entry.vmid, types):
                cause = name
                break
        if entry.vmid in history.clone_pairs:
            cause, task = "clone", history.clone_pairs[entry.vmid]
        elif entry.lock == diff_ledgers.CLONE_LOCK:
            cause, task = "clone", None  # its clone task still runs: paired when it ends
    cs.residencies_open.append(
        ResidencyOpen(
            guest=GuestRef(entry.vmid),
            node=entry.node,
            started_at=diff_residency.task_end(task, cs.now),
            cause=cause,
            task_upid=task.upid if task else "",
            storage_names=config.storage_names if config else (),
        )
    )


def _update_guest(
    known: LocalGuest,
    entry: GuestEntry,
    config: ConfigFacts | None,
    remote: RemoteState,
    history: TaskHistory,
    cs: Changeset,
) -> None:
    wanted = _entry_fields(entry)
    current = {name: getattr(known, name) for name in wanted}
    fields = {k: v for k, v in wanted.items() if current[k] != v}
    if (known.status == RUNNING) != (entry.status == RUNNING):
        fields["last_running"] = cs.now
    facts = None
    if config is not None:
        if config.digest != known.config_digest:
            fields.update(_config_fields(config))
            facts = config
            _identity_event(known, config, cs)
        elif config.read_at != known.config_read_at:
            # Same config re-read (the rolling re-read): only its age changes.
            fields["config_read_at"] = config.read_at
    if fields:
        cs.guests_update.append(GuestUpdate(known.id, known.vmid, _storable(fields), facts))
    if known.residency_node != entry.node:
        diff_residency.move(known, entry, config, remote, history, cs)
    elif (
        facts is not None
        and known.config_digest
        and known.residency_id is not None
        and facts.storage_names != known.storage_names
    ):
        diff_residency.storage_move(known, entry, facts, history, cs)


def _summarise(cs: Changeset, action: str, summary: str, *, cluster_id: int) -> None:
    """Replace more than ``EVENT_LIMIT`` ``action`` events by one ``summary`` event."""
    matching = [e for e in cs.events if e.action == action]
    if len(matching) <= EVENT_LIMIT:
        return
    cs.events = [e for e in cs.events if e.action != action]
    vmids = sorted(e.guest.vmid for e in matching if e.guest is not None)
    cs.events.append(
        Event(summary, after={"cluster_id": cluster_id, "count": len(vmids), "vmids": vmids})
    )
