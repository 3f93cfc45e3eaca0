"""Write a ``Changeset`` to the database: bulk statements, one transaction per batch.

Order and atomicity (each numbered step commits on its own; a failure stops the
apply and leaves every committed step consistent, the next cycle redoes the rest):

1. mirrored infrastructure (nodes, storage, pools, backup jobs, HA, ACL), then tasks
   in batches;
2. what concerns existing guests only, in one transaction: guests going gone (first,
   so a reused vmid is free), ledger rows closed, moves (residency close + open),
   rollbacks, copies of known guests, and their audit events;
3. field updates of existing guests in batches (with their nics/disks/devices);
4. new guests in batches, each with its facts and first residency;
5. what refers to new guests: their copies, lineage, audit events.

An empty changeset issues no query at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from django.db import models, transaction

from governance.audit.services import audit_record
from inventory.models import (
    AclEntry,
    BackupJob,
    Copy,
    GuestDevice,
    GuestDisk,
    GuestNic,
    HAGroup,
    HAResource,
    HARule,
    Lineage,
    Node,
    Pool,
    ProxmoxTask,
    Residency,
    Rollback,
    Storage,
    StorageNodeStatus,
    VirtualMachine,
)
from inventory.sync.state import Changeset, ConfigFacts, CopyOpen, Event, GuestRef, RowChange

BATCH = 1000
T = TypeVar("T")

_MIRRORS: dict[str, type[models.Model]] = {
    "BackupJob": BackupJob,
    "HAResource": HAResource,
    "HARule": HARule,
    "HAGroup": HAGroup,
    "AclEntry": AclEntry,
}


def _chunks(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Refs:
    """Name -> id maps of one cluster's nodes, storages and live guests, filled lazily."""

    def __init__(self, cluster_id: int) -> None:
        self.cluster_id = cluster_id
        self._nodes: dict[str, int] | None = None
        self._storages: dict[str, tuple[int, str]] | None = None
        self.new_guests: dict[int, int] = {}

    def node(self, name: str) -> int | None:
        if self._nodes is None:
            self._nodes = dict(
                Node.objects.filter(cluster_id=self.cluster_id).values_list("name", "id")
            )
        return self._nodes.get(name)

    def storage(self, name: str) -> tuple[int | None, str]:
        if self._storages is None:
            rows = Storage.objects.filter(cluster_id=self.cluster_id).values_list(
                "name", "id", "storage_class"
            )
            self._storages = {name: (id_, cls) for name, id_, cls in rows}
        return self._storages.get(name, (None, ""))

    def guest(self, ref: GuestRef | None) -> int | None:
        if ref is None:
            return None
        return ref.id if ref.id is not None else self.new_guests.get(ref.vmid)


def changeset_apply(*, cluster_id: int, changeset: Changeset) -> None:
    """Write ``changeset`` for ``cluster_id`` (see the module docstring for the steps)."""
    cs = changeset
    if not cs and not cs.events:
        return
    refs = _Refs(cluster_id)
    with transaction.atomic():
        _apply_infra(cluster_id, cs, refs)
        _apply_mirrors(cluster_id, cs)
    for batch in _chunks(cs.tasks_create):
        with transaction.atomic():
            ProxmoxTask.objects.bulk_create(
                [ProxmoxTask(cluster_id=cluster_id, **fields) for fields in batch],
                ignore_conflicts=True,
            )
    if cs.tasks_update:
        with transaction.atomic():
            _update_rows(ProxmoxTask, cs.tasks_update)
    with transaction.atomic():
        _apply_existing(cluster_id, cs, refs)
    for batch in _chunks(cs.guests_update):
        with transaction.atomic():
            _update_guests(batch, refs)
    for batch in _chunks(cs.guests_create):
        with transaction.atomic():
            _create_guests(cluster_id, batch, cs, refs)
    with transaction.atomic():
        _apply_new(cluster_id, cs, refs)


# ---- step 1 -----------------------------------------------------------------------------


def _apply_infra(cluster_id: int, cs: Changeset, refs: _Refs) -> None:
    Node.objects.bulk_create([Node(cluster_id=cluster_id, **f) for f in cs.nodes_create])
    _update_rows(Node, cs.nodes_update)
    Storage.objects.bulk_create([Storage(cluster_id=cluster_id, **f) for f in cs.storages_create])
    _update_rows(Storage, cs.storages_update)
    statuses = []
    for storage, node, fields in cs.storage_statuses_create:
        storage_id, node_id = refs.storage(storage)[0], refs.node(node)
        if storage_id is not None and node_id is not None:
            statuses.append(
                StorageNodeStatus(
                    storage_id=storage_id, node_id=node_id, updated_at=cs.now, **fields
                )
            )
    StorageNodeStatus.objects.bulk_create(statuses)
    _update_rows(StorageNodeStatus, cs.storage_statuses_update)
    Pool.objects.bulk_create([Pool(cluster_id=cluster_id, name=name) for name in cs.pools_create])
    if cs.pools_delete:
        Pool.objects.filter(id__in=cs.pools_delete).delete()


def _apply_mirrors(cluster_id: int, cs: Changeset) -> None:
    for name, rows in cs.mirror_create.items():
        model = _MIRRORS[name]
        model.objects.bulk_create([model(cluster_id=cluster_id, **fields) for fields in rows])
    for name, changes in cs.mirror_update.items():
        _update_rows(_MIRRORS[name], changes)
    for name, ids in cs.mirror_delete.items():
        _MIRRORS[name].objects.filter(cluster_id=cluster_id, id__in=ids).delete()


def _update_rows(model: type[models.Model], changes: Iterable[RowChange]) -> None:
    """One bulk UPDATE per distinct set of changed fields (rarely more than a few)."""
    groups: dict[tuple[str, ...], list[models.Model]] = defaultdict(list)
    for change in changes:
        fields = tuple(sorted(change.fields))
        groups[fields].append(model(pk=change.id, **change.fields))
    for fields, objects in groups.items():
        model.objects.bulk_update(objects, list(fields), batch_size=BATCH)


# ---- step 2 -----------------------------------------------------------------------------


def _apply_existing(cluster_id: int, cs: Changeset, refs: _Refs) -> None:
    if cs.guests_gone:
        for ids in _chunks(cs.guests_gone):
            VirtualMachine.objects.filter(id__in=ids).update(gone_since=cs.now, last_seen=cs.now)
    _close(Residency, "ended_at", ((c.id, c.ended_at) for c in cs.residencies_close))
    _close(Copy, "deleted_at", ((c.id, c.deleted_at) for c in cs.copies_close))
    _open_residencies([r for r in cs.residencies_open if r.guest.id is not None], refs)
    Rollback.objects.bulk_create(
        [
            Rollback(
                vm_id=refs.guest(r.guest),
                detected_at=r.detected_at,
                snapshot_name=r.snapshot_name,
                source=r.source,
                task_upid=r.task_upid,
                old_vmgenid=r.old_vmgenid,
                new_vmgenid=r.new_vmgenid,
            )
            for r in cs.rollbacks_add
        ],
        ignore_conflicts=True,
    )
    _open_copies(cluster_id, [c for c in cs.copies_open if _known(c.guest)], refs)
    _record_events([e for e in cs.events if _known(e.guest)], refs)


def _known(ref: GuestRef | None) -> bool:
    return ref is None or ref.id is not None


def _close(model: type[models.Model], field: str, closes: Iterable[tuple[int, Any]]) -> None:
    by_time: dict[Any, list[int]] = defaultdict(list)
    for id_, at in closes:
        by_time[at].append(id_)
    for at, ids in by_time.items():
        for chunk in _chunks(ids):
            # Only open rows: a ledger row is closed once and never rewritten.
            model.objects.filter(id__in=chunk, **{f"{field}__isnull": True}).update(**{field: at})


def _open_residencies(opens: Iterable[Any], refs: _Refs) -> None:
    rows = []
    for item in opens:
        vm_id, node_id = refs.guest(item.guest), refs.node(item.node)
        if vm_id is None or node_id is None:
            continue
        rows.append(
            Residency(
                vm_id=vm_id,
                node_id=node_id,
                storage_names=list(item.storage_names),
                started_at=item.started_at,
                cause=item.cause,
                task_upid=item.task_upid,
            )
        )
    Residency.objects.bulk_create(rows)


def _open_copies(cluster_id: int, opens: Sequence[CopyOpen], refs: _Refs) -> None:
    rows = []
    for item in opens:
        storage_id, storage_class = refs.storage(item.storage) if item.storage else (None, "")
        rows.append(
            Copy(
                cluster_id=cluster_id,
                vm_id=refs.guest(item.guest),
                source_vmid=item.source_vmid,
                kind=item.kind,
                name=item.name[:300],
                storage_id=storage_id,
                storage_name=item.storage,
                node=item.node,
                storage_class=storage_class,
                size=item.size,
                vmstate=item.vmstate,
                parent=item.parent[:300],
                created_at=item.created_at,
                task_upid=item.task_upid,
            )
        )
    for chunk in _chunks(rows):
        Copy.objects.bulk_create(chunk, ignore_conflicts=True)


def _record_events(events: Iterable[Event], refs: _Refs) -> None:
    ids = [i for e in events if (i := refs.guest(e.guest)) is not None]
    guests = VirtualMachine.objects.only("id", "vmid", "name", "cluster_id").in_bulk(ids)
    for event in events:
        target = guests.get(refs.guest(event.guest)) if event.guest else None
        audit_record(
            actor=None,
            action=event.action,
            target=target,
            before=dict(event.before) if event.before is not None else None,
            after=dict(event.after) if event.after is not None else None,
        )


# ---- steps 3 and 4 ----------------------------------------------------------------------


def _guest_values(fields: dict[str, Any], refs: _Refs) -> dict[str, Any]:
    values = dict(fields)
    if "node" in values:
        values["node_id"] = refs.node(values.pop("node"))
    return values


def _update_guests(batch: Sequence[Any], refs: _Refs) -> None:
    _update_rows(
        VirtualMachine,
        [RowChange(u.id, _guest_values(dict(u.fields), refs)) for u in batch],
    )
    rewritten = {u.id: u.facts for u in batch if u.facts is not None}
    if rewritten:
        for model in (GuestNic, GuestDisk, GuestDevice):
            model.objects.filter(vm_id__in=list(rewritten)).delete()
        _create_facts(rewritten, refs)


def _create_facts(facts: dict[int, ConfigFacts], refs: _Refs) -> None:
    nics, disks, devices = [], [], []
    for vm_id, config in facts.items():
        nics.extend(
            GuestNic(vm_id=vm_id, key=n.key, mac=n.mac, model=n.model, bridge=n.bridge)
            for n in config.nics
        )
        for d in config.disks:
            disks.append(
                GuestDisk(
                    vm_id=vm_id,
                    key=d.key,
                    storage_id=refs.storage(d.storage)[0] if d.storage else None,
                    storage_name=d.storage,
                    volume=d.volume[:300],
                    size=d.size,
                    is_cdrom=d.is_cdrom,
                    media=d.media[:300],
                )
            )
        devices.extend(
            GuestDevice(vm_id=vm_id, key=d.key, kind=d.kind, value=d.value[:500])
            for d in config.devices
        )
    GuestNic.objects.bulk_create(nics, batch_size=BATCH)
    GuestDisk.objects.bulk_create(disks, batch_size=BATCH)
    GuestDevice.objects.bulk_create(devices, batch_size=BATCH)


def _create_guests(cluster_id: int, batch: Sequence[Any], cs: Changeset, refs: _Refs) -> None:
    created = VirtualMachine.objects.bulk_create(
        [
            VirtualMachine(
                cluster_id=cluster_id, vmid=g.vmid, **_guest_values(dict(g.fields), refs)
            )
            for g in batch
        ]
    )
    if any(vm.pk is None for vm in created):  # a backend that returns no ids from INSERT
        vmids = [g.vmid for g in batch]
        rows = VirtualMachine.objects.filter(
            cluster_id=cluster_id, vmid__in=vmids, gone_since__isnull=True
        ).values_list("vmid", "id")
        refs.new_guests.update(rows)
    else:
        refs.new_guests.update((vm.vmid, vm.pk) for vm in created)
    vmids = {g.vmid for g in batch}
    _create_facts(
        {refs.new_guests[v]: f for v, f in cs.new_guest_facts.items() if v in vmids}, refs
    )
    _open_residencies(
        [r for r in cs.residencies_open if r.guest.id is None and r.guest.vmid in vmids], refs
    )


# ---- step 5 -----------------------------------------------------------------------------


def _apply_new(cluster_id: int, cs: Changeset, refs: _Refs) -> None:
    _open_copies(cluster_id, [c for c in cs.copies_open if not _known(c.guest)], refs)
    lineage = []
    for item in cs.lineage_add:
        parent, child = refs.guest(item.parent), refs.guest(item.child)
        if parent is not None and child is not None and parent != child:
            lineage.append(
                Lineage(
                    parent_id=parent,
                    child_id=child,
                    kind=item.kind,
                    task_upid=item.task_upid,
                    detected_at=item.detected_at,
                )
            )
    Lineage.objects.bulk_create(lineage, ignore_conflicts=True)
    _record_events([e for e in cs.events if not _known(e.guest)], refs)
