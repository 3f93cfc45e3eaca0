"""Helpers for sync tests: a ``LocalState`` as Steward would hold it after applying a read."""

from __future__ import annotations

from datetime import datetime

from inventory.sync.state import LocalGuest, LocalState, LocalTask, RemoteState


def local_after(remote: RemoteState, *, read_at: datetime | None = None) -> LocalState:
    """What the local side looks like once ``remote`` was applied (guests and tasks only).

    ``read_at`` overrides every guest's ``config_read_at`` (to age the configs).
    """
    guests = {}
    for index, entry in enumerate(remote.guests or ()):
        config = remote.configs.get(entry.vmid)
        guests[entry.vmid] = LocalGuest(
            id=index + 1,
            vmid=entry.vmid,
            kind=entry.kind,
            name=entry.name,
            node=entry.node,
            status=entry.status,
            tags=entry.tags,
            pool=entry.pool,
            template=entry.template,
            lock=entry.lock,
            hastate=entry.hastate,
            maxcpu=entry.maxcpu,
            maxmem=entry.maxmem,
            maxdisk=entry.maxdisk,
            config_digest=config.digest if config else "",
            config_read_at=(read_at or config.read_at) if config else None,
            vmgenid=config.vmgenid if config else "",
            smbios_uuid=config.smbios_uuid if config else "",
            last_running=None,
        )
    tasks = {
        t.upid: LocalTask(id=i + 1, upid=t.upid, status=t.status, finished=not t.running)
        for i, t in enumerate(remote.tasks or ())
    }
    return LocalState(cluster_id=1, guests=guests, tasks=tasks)
