"""Hand-built sync states for diff and apply tests (import as ``tests.inventory.sync.builders``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from inventory.proxmox.types import GuestEntry, NodeEntry, Snapshot, StorageEntry, Task, Volume
from inventory.sync.state import (
    ConfigFacts,
    DiskFacts,
    LocalCopy,
    LocalGuest,
    LocalNode,
    LocalState,
    LocalTask,
    NicFacts,
    RemoteState,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=1)
NODES = ("pve1", "pve2", "pve3")


def node(name: str, status: str = "online") -> NodeEntry:
    return NodeEntry(name=name, status=status, maxcpu=8, maxmem=64 * 2**30)


def guest(vmid: int, node: str = "pve1", **fields: Any) -> GuestEntry:
    values: dict[str, Any] = {"kind": "qemu", "name": f"vm{vmid}", "status": "running"}
    values.update(fields)
    return GuestEntry(vmid=vmid, node=node, **values)


def task(
    type_: str,
    vmid: int | str,
    node: str = "pve1",
    *,
    start: datetime = EARLIER,
    end: datetime | None = NOW - timedelta(seconds=30),
    status: str = "OK",
    serial: int = 1,
) -> Task:
    upid = (
        f"UPID:{node}:{serial:08X}:00000001:{int(start.timestamp()):08X}:{type_}:{vmid}:root@pam:"
    )
    return Task(
        upid=upid,
        node=node,
        type=type_,
        id=str(vmid),
        user="root@pam",
        starttime=start,
        endtime=end,
        status=status if end else "running",
    )


def config(
    vmid: int,
    digest: str = "d1",
    *,
    read_at: datetime = NOW,
    vmgenid: str = "",
    smbios_uuid: str = "",
    disks: Iterable[DiskFacts] = (),
    macs: Iterable[str] = (),
    values: Mapping[str, str] | None = None,
) -> ConfigFacts:
    """A parsed config; ``values`` adds raw keys (``parent``...) beside the disks'."""
    disks = tuple(disks) or (DiskFacts("scsi0", "local-lvm", f"local-lvm:vm-{vmid}-disk-0", 2**30),)
    nics = tuple(NicFacts(f"net{i}", mac) for i, mac in enumerate(macs))
    values = {**{d.key: d.volume for d in disks}, **(values or {})}
    return ConfigFacts(
        vmid=vmid,
        digest=digest,
        read_at=read_at,
        values=values,
        vmgenid=vmgenid,
        smbios_uuid=smbios_uuid,
        disks=disks,
        nics=nics,
    )


def storage(name: str, node: str, *, shared: bool = False) -> StorageEntry:
    return StorageEntry(
        storage=name,
        node=node,
        plugintype="lvmthin",
        content=("images", "rootdir"),
        shared=shared,
        status="available",
        disk=10,
        maxdisk=100,
    )


def snapshot(name: str, parent: str = "", vmstate: bool = False) -> Snapshot:
    return Snapshot(name=name, parent=parent, snaptime=EARLIER, vmstate=vmstate, description="")


def volume(volid: str, content: str = "backup", vmid: int | None = None, size: int = 100) -> Volume:
    return Volume(volid=volid, content=content, format="raw", size=size, vmid=vmid, ctime=EARLIER)


def remote(**parts: Any) -> RemoteState:
    values: dict[str, Any] = {
        "read_at": NOW,
        "version": "9.1.1",
        "nodes": tuple(node(n) for n in NODES),
        "storages": (),
        "pools": (),
        "guests": (),
        "tasks": (),
        "backup_jobs": (),
        "ha_resources": (),
        "ha_rules": (),
        "acl": (),
    }
    values.update(parts)
    return RemoteState(**values)


def local_guest(id_: int, vmid: int, node: str = "pve1", **fields: Any) -> LocalGuest:
    """A stored guest that matches ``guest(vmid, node)`` and ``config(vmid)`` as read earlier."""
    values: dict[str, Any] = {
        "kind": "qemu",
        "name": f"vm{vmid}",
        "status": "running",
        "tags": (),
        "pool": "",
        "template": False,
        "lock": "",
        "hastate": "",
        "maxcpu": 0,
        "maxmem": 0,
        "maxdisk": 0,
        "config_digest": "d1",
        "config_read_at": NOW,
        "vmgenid": "",
        "smbios_uuid": "",
        "last_running": EARLIER,
        "storage_names": ("local-lvm",),
        "volumes": (f"local-lvm:vm-{vmid}-disk-0",),
        "residency_id": 1000 + id_,
        "residency_node": node,
    }
    values.update(fields)
    return LocalGuest(id=id_, vmid=vmid, node=node, **values)


def local(
    guests: Iterable[LocalGuest] = (),
    *,
    tasks: Iterable[Task] = (),
    copies: Iterable[LocalCopy] = (),
    **parts: Any,
) -> LocalState:
    nodes = {n: LocalNode(i, n, "online", 8, 64 * 2**30, False) for i, n in enumerate(NODES, 1)}
    state = LocalState(
        cluster_id=1,
        nodes=nodes,
        guests={g.vmid: g for g in guests},
        tasks={
            t.upid: LocalTask(i, t.upid, t.status, t.endtime is not None)
            for i, t in enumerate(tasks, 1)
        },
        copies={(c.kind, c.source_vmid, c.node, c.name): c for c in copies},
    )
    return replace(state, **parts)


def apply_state(cluster_id: int, state: RemoteState, *, now: datetime = NOW) -> None:
    """One load-local/diff/apply cycle of ``state`` into the database (needs ``db``)."""
    from inventory.sync.apply import changeset_apply
    from inventory.sync.diff import diff
    from inventory.sync.local import load_local, with_tasks

    stored = with_tasks(
        load_local(cluster_id=cluster_id), upids=[t.upid for t in state.tasks or ()]
    )
    changeset_apply(cluster_id=cluster_id, changeset=diff(stored, state, now=now))


def steady(*vmids: int) -> tuple[LocalState, RemoteState]:
    """A local and a remote state that agree on guests ``vmids`` (all on pve1)."""
    return (
        local([local_guest(i, vmid) for i, vmid in enumerate(vmids, 1)]),
        remote(guests=tuple(guest(v) for v in vmids)),
    )
