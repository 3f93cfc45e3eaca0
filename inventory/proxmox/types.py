"""Typed views of what the Proxmox VE API returns.

Each ``from_api`` accepts the JSON Proxmox sends (where numbers may arrive as
strings and flags as 0/1 or absent) and raises ``ProxmoxInvalidResponse`` when a
field the rest of Steward relies on is missing or malformed, so bad data from a
cluster stops at this door instead of reaching the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from inventory.proxmox.errors import ProxmoxInvalidResponse

GUEST_TYPES = ("qemu", "lxc")


def _require(data: Any, key: str, kind: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ProxmoxInvalidResponse(f"{kind} entry without '{key}': {str(data)[:200]}")
    return data[key]


def _int(value: Any, default: int | None = 0) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(float(value))
    except (TypeError, ValueError) as exc:
        raise ProxmoxInvalidResponse(f"expected a number, got {value!r}") from exc


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def _tags(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(sorted({t for t in re.split(r"[;,\s]+", str(value)) if t}))


def _time(value: Any) -> datetime | None:
    epoch = _int(value, default=None)
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch else None


@dataclass(frozen=True)
class Version:
    """``GET /version``."""

    version: str
    release: str
    repoid: str

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])

    @classmethod
    def from_api(cls, data: Any) -> Version:
        return cls(
            version=str(_require(data, "version", "version")),
            release=str(data.get("release", "")),
            repoid=str(data.get("repoid", "")),
        )


@dataclass(frozen=True)
class NodeEntry:
    """A node as listed in ``/cluster/resources`` (type ``node``)."""

    name: str
    status: str
    cpu: float = 0.0
    maxcpu: int = 0
    mem: int = 0
    maxmem: int = 0
    uptime: int = 0

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> NodeEntry:
        return cls(
            name=str(_require(data, "node", "node")),
            status=str(data.get("status", "unknown")),
            cpu=float(data.get("cpu") or 0),
            maxcpu=_int(data.get("maxcpu")) or 0,
            mem=_int(data.get("mem")) or 0,
            maxmem=_int(data.get("maxmem")) or 0,
            uptime=_int(data.get("uptime")) or 0,
        )


@dataclass(frozen=True)
class StorageEntry:
    """One storage as seen from one node (``/cluster/resources`` type ``storage``)."""

    storage: str
    node: str
    plugintype: str
    content: tuple[str, ...]
    shared: bool
    status: str
    disk: int = 0
    maxdisk: int = 0

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> StorageEntry:
        content = data.get("content") or ""
        return cls(
            storage=str(_require(data, "storage", "storage")),
            node=str(_require(data, "node", "storage")),
            plugintype=str(data.get("plugintype", "")),
            content=tuple(sorted(c for c in str(content).split(",") if c)),
            shared=_flag(data.get("shared")),
            status=str(data.get("status", "unknown")),
            disk=_int(data.get("disk")) or 0,
            maxdisk=_int(data.get("maxdisk")) or 0,
        )


@dataclass(frozen=True)
class GuestEntry:
    """A QEMU VM or LXC container as listed in ``/cluster/resources``."""

    vmid: int
    kind: str
    node: str
    name: str
    status: str
    template: bool = False
    tags: tuple[str, ...] = ()
    pool: str = ""
    lock: str = ""
    hastate: str = ""
    maxcpu: int = 0
    maxmem: int = 0
    maxdisk: int = 0
    uptime: int = 0

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> GuestEntry:
        kind = str(_require(data, "type", "guest"))
        if kind not in GUEST_TYPES:
            raise ProxmoxInvalidResponse(f"not a guest type: {kind!r}")
        return cls(
            vmid=_int(_require(data, "vmid", "guest")) or 0,
            kind=kind,
            node=str(_require(data, "node", "guest")),
            name=str(data.get("name", "")),
            status=str(data.get("status", "unknown")),
            template=_flag(data.get("template")),
            tags=_tags(data.get("tags")),
            pool=str(data.get("pool", "")),
            lock=str(data.get("lock", "")),
            hastate=str(data.get("hastate", "")),
            maxcpu=_int(data.get("maxcpu")) or 0,
            maxmem=_int(data.get("maxmem")) or 0,
            maxdisk=_int(data.get("maxdisk")) or 0,
            uptime=_int(data.get("uptime")) or 0,
        )


@dataclass(frozen=True)
class Resources:
    """One read of ``/cluster/resources``, split by type; other types are ignored."""

    nodes: tuple[NodeEntry, ...]
    storages: tuple[StorageEntry, ...]
    guests: tuple[GuestEntry, ...]
    pools: tuple[str, ...]

    @classmethod
    def from_api(cls, data: Any) -> Resources:
        if not isinstance(data, list):
            raise ProxmoxInvalidResponse("/cluster/resources did not return a list")
        nodes, storages, guests, pools = [], [], [], []
        for item in data:
            kind = _require(item, "type", "resource")
            if kind == "node":
                nodes.append(NodeEntry.from_api(item))
            elif kind == "storage":
                storages.append(StorageEntry.from_api(item))
            elif kind in GUEST_TYPES:
                guests.append(GuestEntry.from_api(item))
            elif kind == "pool":
                pools.append(str(item.get("pool", "")))
        return cls(tuple(nodes), tuple(storages), tuple(guests), tuple(pools))


@dataclass(frozen=True)
class GuestConfig:
    """A guest's current config as key -> raw string, with the digest that guards updates."""

    digest: str
    values: dict[str, str] = field(hash=False)

    @classmethod
    def from_api(cls, data: Any) -> GuestConfig:
        if not isinstance(data, dict):
            raise ProxmoxInvalidResponse("a guest config must be an object")
        values = {str(k): str(v) for k, v in data.items() if k != "digest"}
        return cls(digest=str(data.get("digest", "")), values=values)


@dataclass(frozen=True)
class PendingChange:
    """One item of ``GET .../pending``: ``value`` is what applies at the next cold start
    (None for a removal); ``pending`` is False for keys already in effect."""

    key: str
    value: str | None
    pending: bool

    @classmethod
    def from_api(cls, data: Any) -> PendingChange:
        key = str(_require(data, "key", "pending change"))
        if data.get("delete"):
            return cls(key, None, True)
        if "pending" in data:
            return cls(key, str(data["pending"]), True)
        return cls(key, str(data.get("value", "")), False)


@dataclass(frozen=True)
class GuestStatus:
    """``GET /nodes/{node}/{kind}/{vmid}/status/current``: the guest's run state now."""

    vmid: int
    status: str
    name: str = ""
    lock: str = ""

    @classmethod
    def from_api(cls, data: Any) -> GuestStatus:
        return cls(
            vmid=_int(_require(data, "vmid", "guest status")) or 0,
            status=str(data.get("status", "unknown")),
            name=str(data.get("name", "")),
            lock=str(data.get("lock", "")),
        )


@dataclass(frozen=True)
class Snapshot:
    """One snapshot of a guest (the pseudo-entry ``current`` is skipped by the gateway)."""

    name: str
    parent: str
    snaptime: datetime | None
    vmstate: bool
    description: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Snapshot:
        return cls(
            name=str(_require(data, "name", "snapshot")),
            parent=str(data.get("parent", "")),
            snaptime=_time(data.get("snaptime")),
            vmstate=_flag(data.get("vmstate")),
            description=str(data.get("description", "")),
        )


@dataclass(frozen=True)
class Volume:
    """One item of a storage's content: a disk image, a backup, an ISO, an import source."""

    volid: str
    content: str
    format: str
    size: int
    vmid: int | None
    ctime: datetime | None
    notes: str = ""
    protected: bool = False

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Volume:
        return cls(
            volid=str(_require(data, "volid", "volume")),
            content=str(data.get("content", "")),
            format=str(data.get("format", "")),
            size=_int(data.get("size")) or 0,
            vmid=_int(data.get("vmid"), default=None),
            ctime=_time(data.get("ctime")),
            notes=str(data.get("notes", "")),
            protected=_flag(data.get("protected")),
        )


_UPID = re.compile(
    r"^UPID:(?P<node>[^:]+):(?P<pid>[0-9A-F]{8}):(?P<pstart>[0-9A-F]{8,9}):"
    r"(?P<starttime>[0-9A-F]{8}):(?P<type>[^:]*):(?P<id>[^:]*):(?P<user>[^:]+):$"
)


@dataclass(frozen=True)
class Upid:
    """A parsed task id: which node runs it, what it does, to what, for whom, since when."""

    raw: str
    node: str
    type: str
    id: str
    user: str
    starttime: datetime

    @classmethod
    def parse(cls, raw: str) -> Upid:
        match = _UPID.match(str(raw))
        if not match:
            raise ProxmoxInvalidResponse(f"not a task id (UPID): {str(raw)[:120]!r}")
        return cls(
            raw=raw,
            node=match["node"],
            type=match["type"],
            id=match["id"],
            user=match["user"],
            starttime=datetime.fromtimestamp(int(match["starttime"], 16), tz=UTC),
        )


@dataclass(frozen=True)
class Task:
    """A task from ``/cluster/tasks`` or a task status: running until ``exitstatus`` is set."""

    upid: str
    node: str
    type: str
    id: str
    user: str
    starttime: datetime | None
    endtime: datetime | None
    status: str

    @property
    def running(self) -> bool:
        return self.endtime is None and self.status in ("", "running")

    @property
    def ok(self) -> bool:
        return self.status == "OK"

    @classmethod
    def from_api(cls, data: Any) -> Task:
        upid = Upid.parse(_require(data, "upid", "task"))
        # A task status has status=running|stopped plus exitstatus; a task list
        # entry has status=<exit status> and an endtime once finished.
        if data.get("status") == "running":
            status, end = "running", None
        elif data.get("status") == "stopped":
            status, end = str(data.get("exitstatus", "")), _time(data.get("endtime"))
        else:
            status, end = str(data.get("status", "")), _time(data.get("endtime"))
        return cls(
            upid=upid.raw,
            node=str(data.get("node", upid.node)),
            type=str(data.get("type", upid.type)),
            id=str(data.get("id", upid.id)),
            user=str(data.get("user", upid.user)),
            starttime=_time(data.get("starttime")) or upid.starttime,
            endtime=end,
            status=status,
        )
