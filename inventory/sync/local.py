"""Load Steward's side of one cluster as plain data (``LocalState``) for the diff.

Reads with ``values_list`` only and keeps no ORM instances: at 100,000 guests the state
is a few tuples per guest. Live rows only (gone guests, closed ledger rows and the
task history are not needed to decide this cycle's writes), except tasks, which are
looked up by the UPIDs the remote listed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

from inventory.models import (
    AclEntry,
    BackupJob,
    Copy,
    GuestDisk,
    HAGroup,
    HAResource,
    HARule,
    Node,
    Pool,
    ProxmoxTask,
    Residency,
    Storage,
    StorageNodeStatus,
    VirtualMachine,
)
from inventory.sync.state import (
    AclFacts,
    BackupJobFacts,
    HAGroupFacts,
    HAResourceFacts,
    HARuleFacts,
    LocalCopy,
    LocalGuest,
    LocalNode,
    LocalState,
    LocalStorage,
    LocalStorageStatus,
    LocalTask,
)

# SQLite allows 999 parameters per statement in old builds; stay well below.
_IN_BATCH = 500


def load_local(*, cluster_id: int) -> LocalState:
    """Everything the diff needs about ``cluster_id`` except tasks (see ``with_tasks``)."""
    return LocalState(
        cluster_id=cluster_id,
        nodes=_nodes(cluster_id),
        storages=_storages(cluster_id),
        storage_statuses=_storage_statuses(cluster_id),
        pools=dict(Pool.objects.filter(cluster_id=cluster_id).values_list("name", "id")),
        guests=_guests(cluster_id),
        copies=_copies(cluster_id),
        backup_jobs=_backup_jobs(cluster_id),
        ha_resources=_ha_resources(cluster_id),
        ha_rules=_ha_rules(cluster_id),
        ha_groups=_ha_groups(cluster_id),
        acl=_acl(cluster_id),
    )


def with_tasks(local: LocalState, *, upids: Iterable[str]) -> LocalState:
    """``local`` with the stored tasks among ``upids`` (the ones the remote listed)."""
    wanted = list(dict.fromkeys(upids))
    tasks: dict[str, LocalTask] = {}
    for start in range(0, len(wanted), _IN_BATCH):
        rows = ProxmoxTask.objects.filter(
            cluster_id=local.cluster_id, upid__in=wanted[start : start + _IN_BATCH]
        ).values_list("id", "upid", "status", "endtime")
        for id_, upid, status, endtime in rows:
            tasks[upid] = LocalTask(id=id_, upid=upid, status=status, finished=endtime is not None)
    return replace(local, tasks=tasks)


def _nodes(cluster_id: int) -> dict[str, LocalNode]:
    rows = Node.objects.filter(cluster_id=cluster_id).values_list(
        "id", "name", "status", "maxcpu", "maxmem", "gone_since"
    )
    return {
        name: LocalNode(id_, name, status, maxcpu, maxmem, gone is not None)
        for id_, name, status, maxcpu, maxmem, gone in rows
    }


def _storages(cluster_id: int) -> dict[str, LocalStorage]:
    rows = Storage.objects.filter(cluster_id=cluster_id).values_list(
        "id", "name", "plugintype", "shared", "content", "storage_class", "gone_since"
    )
    return {
        name: LocalStorage(id_, name, plugin, shared, tuple(content or ()), cls, gone is not None)
        for id_, name, plugin, shared, content, cls, gone in rows
    }


def _storage_statuses(cluster_id: int) -> dict[tuple[str, str], LocalStorageStatus]:
    rows = StorageNodeStatus.objects.filter(storage__cluster_id=cluster_id).values_list(
        "id", "storage__name", "node__name", "status", "disk", "maxdisk"
    )
    return {
        (storage, node): LocalStorageStatus(id_, storage, node, status, disk, maxdisk)
        for id_, storage, node, status, disk, maxdisk in rows
    }


def _guests(cluster_id: int) -> dict[int, LocalGuest]:
    live = VirtualMachine.objects.filter(cluster_id=cluster_id, gone_since__isnull=True)
    storages: dict[int, set[str]] = defaultdict(set)
    volumes: dict[int, list[str]] = defaultdict(list)
    disk_rows = GuestDisk.objects.filter(
        vm__cluster_id=cluster_id, vm__gone_since__isnull=True
    ).values_list("vm_id", "storage_name", "volume", "is_cdrom")
    for vm_id, storage, volume, is_cdrom in disk_rows:
        if is_cdrom:
            continue
        if storage:
            storages[vm_id].add(storage)
        if volume:
            volumes[vm_id].append(volume)
    residencies = {
        vm_id: (id_, node)
        for id_, vm_id, node in Residency.objects.filter(
            vm__cluster_id=cluster_id, vm__gone_since__isnull=True, ended_at__isnull=True
        ).values_list("id", "vm_id", "node__name")
    }
    guests: dict[int, LocalGuest] = {}
    rows = live.values_list(
        "id",
        "vmid",
        "kind",
        "name",
        "node__name",
        "status",
        "tags",
        "pool",
        "template",
        "lock",
        "hastate",
        "maxcpu",
        "maxmem",
        "maxdisk",
        "config_digest",
        "config_read_at",
        "vmgenid",
        "smbios_uuid",
        "last_running",
    )
    for row in rows.iterator(chunk_size=2000):
        id_, vmid = row[0], row[1]
        residency_id, residency_node = residencies.get(id_, (None, ""))
        guests[vmid] = LocalGuest(
            id_,
            vmid,
            row[2],
            row[3],
            row[4] or "",
            row[5],
            tuple(row[6] or ()),
            *row[7:],
            storage_names=tuple(sorted(storages.get(id_, ()))),
            volumes=tuple(volumes.get(id_, ())),
            residency_id=residency_id,
            residency_node=residency_node,
        )
    return guests


def _copies(cluster_id: int) -> dict[tuple[str, int, str, str], LocalCopy]:
    rows = Copy.objects.filter(cluster_id=cluster_id, deleted_at__isnull=True).values_list(
        "id", "kind", "source_vmid", "name", "storage_name", "node", "vm_id"
    )
    return {
        (kind, vmid, node, name): LocalCopy(id_, kind, vmid, name, storage or "", node, vm_id)
        for id_, kind, vmid, name, storage, node, vm_id in rows.iterator(chunk_size=2000)
    }


def _backup_jobs(cluster_id: int) -> dict[str, tuple[int, BackupJobFacts]]:
    rows = BackupJob.objects.filter(cluster_id=cluster_id).values_list(
        "id",
        "job_id",
        "enabled",
        "schedule",
        "storage",
        "mode",
        "selection",
        "vmids",
        "exclude",
        "pool",
    )
    return {
        job_id: (
            id_,
            BackupJobFacts(
                job_id,
                enabled,
                schedule,
                storage,
                mode,
                selection,
                tuple(vmids or ()),
                tuple(exclude or ()),
                pool,
            ),
        )
        for id_, job_id, enabled, schedule, storage, mode, selection, vmids, exclude, pool in rows
    }


def _ha_resources(cluster_id: int) -> dict[str, tuple[int, HAResourceFacts]]:
    rows = HAResource.objects.filter(cluster_id=cluster_id).values_list(
        "id", "sid", "vmid", "state", "group", "max_restart", "max_relocate", "failback"
    )
    return {row[1]: (row[0], HAResourceFacts(*row[1:])) for row in rows}


def _ha_rules(cluster_id: int) -> dict[str, tuple[int, HARuleFacts]]:
    rows = HARule.objects.filter(cluster_id=cluster_id).values_list(
        "id", "rule", "type", "nodes", "resources", "affinity", "strict", "disabled"
    )
    return {
        rule: (
            id_,
            HARuleFacts(
                rule,
                type_,
                nodes=tuple(nodes),
                resources=tuple(res),
                affinity=affinity,
                strict=strict,
                disabled=off,
            ),
        )
        for id_, rule, type_, nodes, res, affinity, strict, off in rows
    }


def _ha_groups(cluster_id: int) -> dict[str, tuple[int, HAGroupFacts]]:
    rows = HAGroup.objects.filter(cluster_id=cluster_id).values_list(
        "id", "group", "nodes", "restricted", "nofailback"
    )
    return {
        group: (id_, HAGroupFacts(group, tuple(nodes), restricted, nofailback))
        for id_, group, nodes, restricted, nofailback in rows
    }


def _acl(cluster_id: int) -> dict[tuple[str, str, str], tuple[int, AclFacts]]:
    rows = AclEntry.objects.filter(cluster_id=cluster_id).values_list(
        "id", "path", "ugid", "ugid_type", "roleid", "propagate"
    )
    return {
        (path, ugid, roleid): (id_, AclFacts(path, ugid, ugid_type, roleid, propagate))
        for id_, path, ugid, ugid_type, roleid, propagate in rows
    }
