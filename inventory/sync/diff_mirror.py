"""Diff of what is mirrored as-is: nodes, storage, pools, tasks, backup jobs, HA, ACL (pure).

Each part is compared only when the remote read it (not ``None``); rows disappear
(gone or deleted) only when the part is also non-empty or Steward holds none of it,
since PVE answers an empty list, not an error, to a token that lost its rights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from inventory.sync.history import task_vmid
from inventory.sync.state import Changeset, LocalState, RemoteState, RowChange

F = TypeVar("F")


def trusted_empty(remote_part: Iterable[Any] | None, local_part: Mapping[Any, Any]) -> bool:
    """Whether an absence in ``remote_part`` may be taken as a disappearance.

    False when the part was not read, or came back empty while Steward holds rows for it
    (an empty answer is what a token without rights gets).
    """
    if remote_part is None:
        return False
    return bool(remote_part) or not local_part


def _changed(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if current.get(k) != v}


def diff_nodes(local: LocalState, remote: RemoteState, cs: Changeset) -> None:
    if remote.nodes is None:
        return
    seen: set[str] = set()
    for entry in remote.nodes:
        seen.add(entry.name)
        wanted: dict[str, Any] = {"status": entry.status}
        # Without Sys.Audit the sizes read as 0; keep what was known instead of erasing it.
        if entry.maxcpu:
            wanted["maxcpu"] = entry.maxcpu
        if entry.maxmem:
            wanted["maxmem"] = entry.maxmem
        node = local.nodes.get(entry.name)
        if node is None:
            cs.nodes_create.append(
                {"name": entry.name, "first_seen": cs.now, "last_seen": cs.now, **wanted}
            )
            continue
        fields = _changed(dataclasses.asdict(node), wanted)
        if node.gone:
            fields.update(gone_since=None, last_seen=cs.now)
        if fields:
            cs.nodes_update.append(RowChange(node.id, fields))
    if trusted_empty(remote.nodes, local.nodes):
        for node in local.nodes.values():
            if node.name not in seen and not node.gone:
                cs.nodes_update.append(RowChange(node.id, {"gone_since": cs.now}))
                cs.warnings.append(f"node {node.name} is no longer part of the cluster")


def diff_storages(local: LocalState, remote: RemoteState, cs: Changeset) -> None:
    if remote.storages is None:
        return
    definitions: dict[str, dict[str, Any]] = {}
    for entry in remote.storages:
        definitions.setdefault(
            entry.storage,
            {"plugintype": entry.plugintype, "shared": entry.shared, "content": entry.content},
        )
        wanted = {"status": entry.status, "disk": entry.disk, "maxdisk": entry.maxdisk}
        status = local.storage_statuses.get((entry.storage, entry.node))
        if status is None:
            cs.storage_statuses_create.append((entry.storage, entry.node, wanted))
        elif fields := _changed(dataclasses.asdict(status), wanted):
            cs.storage_statuses_update.append(
                RowChange(status.id, {**fields, "updated_at": cs.now})
            )
    for name, wanted in definitions.items():
        storage = local.storages.get(name)
        if storage is None:
            cs.storages_create.append(
                {"name": name, "first_seen": cs.now, "last_seen": cs.now, **wanted}
            )
            continue
        fields = _changed(dataclasses.asdict(storage), wanted)
        if storage.gone:
            fields.update(gone_since=None, last_seen=cs.now)
        if "content" in fields:
            fields["content"] = list(fields["content"])
        if fields:
            cs.storages_update.append(RowChange(storage.id, fields))
    if trusted_empty(remote.storages, local.storages):
        for storage in local.storages.values():
            if storage.name not in definitions and not storage.gone:
                cs.storages_update.append(RowChange(storage.id, {"gone_since": cs.now}))
    for item in cs.storages_create:
        item["content"] = list(item["content"])


def diff_pools(local: LocalState, remote: RemoteState, cs: Changeset) -> None:
    if remote.pools is None:
        return
    wanted = set(remote.pools)
    cs.pools_create.extend(sorted(wanted - local.pools.keys()))
    if trusted_empty(remote.pools, local.pools):
        cs.pools_delete.extend(id_ for name, id_ in local.pools.items() if name not in wanted)


def diff_tasks(local: LocalState, remote: RemoteState, cs: Changeset) -> None:
    """New tasks are recorded; stored tasks that were running get their end and status."""
    for task in remote.tasks or ():
        stored = local.tasks.get(task.upid)
        if stored is None:
            cs.tasks_create.append(
                {
                    "upid": task.upid,
                    "node": task.node,
                    "type": task.type,
                    "vmid": task_vmid(task),
                    "user": task.user,
                    "starttime": task.starttime,
                    "endtime": task.endtime,
                    "status": task.status[:300],
                }
            )
        elif not stored.finished and (task.endtime is not None or task.status != stored.status):
            cs.tasks_update.append(
                RowChange(stored.id, {"endtime": task.endtime, "status": task.status[:300]})
            )


def _json_ready(facts: Any) -> dict[str, Any]:
    """The stored fields of ``facts`` (those it compares by), tuples as JSON lists."""
    values = {f.name: getattr(facts, f.name) for f in dataclasses.fields(facts) if f.compare}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _mirror(
    model: str,
    cs: Changeset,
    local: Mapping[Hashable, tuple[int, F]],
    remote: Iterable[F] | None,
    key: Callable[[F], Hashable],
) -> None:
    if remote is None:
        return
    wanted = {key(facts): facts for facts in remote}
    for k, facts in wanted.items():
        stored = local.get(k)
        if stored is None:
            cs.mirror_create.setdefault(model, []).append(_json_ready(facts))
        elif stored[1] != facts:
            cs.mirror_update.setdefault(model, []).append(RowChange(stored[0], _json_ready(facts)))
    if trusted_empty(wanted, local):
        gone = [id_ for k, (id_, _) in local.items() if k not in wanted]
        if gone:
            cs.mirror_delete.setdefault(model, []).extend(gone)
    elif local:
        cs.warnings.append(f"{model} list came back empty; kept the {len(local)} known")


def diff_cluster_objects(local: LocalState, remote: RemoteState, cs: Changeset) -> None:
    _mirror("BackupJob", cs, local.backup_jobs, remote.backup_jobs, lambda f: f.job_id)
    _mirror("HAResource", cs, local.ha_resources, remote.ha_resources, lambda f: f.sid)
    _mirror("HARule", cs, local.ha_rules, remote.ha_rules, lambda f: f.rule)
    _mirror("HAGroup", cs, local.ha_groups, remote.ha_groups, lambda f: f.group)
    _mirror("AclEntry", cs, local.acl, remote.acl, lambda f: (f.path, f.ugid, f.roleid))
