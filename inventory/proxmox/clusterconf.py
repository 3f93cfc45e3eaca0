"""Typed views of cluster-wide configuration: backup jobs, HA resources/rules/groups, ACLs.

Same contract as :mod:`inventory.proxmox.types`: ``from_api`` accepts PVE's scalar
quirks (0/1 flags, numbers as strings, absent defaults) and raises
``ProxmoxInvalidResponse`` for an entry missing its identifying field.

The sync stores these as they are (``inventory.sync.state`` names them ``*Facts``):
fields Steward does not store (``node``, ``comment``) are left out of comparisons
(``compare=False``), so an edited comment alone is not a change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from inventory.proxmox.types import _flag, _int, _require


def _list(value: Any) -> tuple[str, ...]:
    """PVE lists are comma/semicolon/space separated strings."""
    return tuple(item for item in re.split(r"[,;\s]+", str(value or "")) if item)


def _vmids(value: Any) -> tuple[int, ...]:
    return tuple(sorted({int(v) for v in _list(value) if v.isdigit()}))


@dataclass(frozen=True)
class BackupJob:
    """A scheduled vzdump job (``/cluster/backup``); selection is all, vmids or a pool."""

    job_id: str
    enabled: bool
    schedule: str
    storage: str
    mode: str
    selection: str  # all | vmids | pool
    vmids: tuple[int, ...] = ()
    exclude: tuple[int, ...] = ()
    pool: str = ""
    node: str = field(default="", compare=False)
    comment: str = field(default="", compare=False)

    @classmethod
    def from_api(cls, data: Any) -> BackupJob:
        job_id = str(_require(data, "id", "backup job"))
        if _flag(data.get("all")):
            selection = "all"
        elif data.get("pool"):
            selection = "pool"
        else:
            selection = "vmids"
        return cls(
            job_id=job_id,
            enabled=_flag(data.get("enabled", 1)),
            schedule=str(data.get("schedule", "")),
            storage=str(data.get("storage", "")),
            mode=str(data.get("mode", "snapshot")),
            selection=selection,
            vmids=_vmids(data.get("vmid")),
            exclude=_vmids(data.get("exclude")),
            pool=str(data.get("pool", "")),
            node=str(data.get("node", "")),
            comment=str(data.get("comment", "")),
        )


@dataclass(frozen=True)
class HAResource:
    """A guest under HA management (``vm:100`` / ``ct:101``) and its requested state."""

    sid: str
    vmid: int | None
    state: str
    group: str = ""
    max_restart: int = 1
    max_relocate: int = 1
    failback: bool = True
    comment: str = field(default="", compare=False)

    @classmethod
    def from_api(cls, data: Any) -> HAResource:
        sid = str(_require(data, "sid", "HA resource"))
        _, _, tail = sid.partition(":")
        return cls(
            sid=sid,
            vmid=int(tail) if tail.isdigit() else None,
            state=str(data.get("state", "started")),
            group=str(data.get("group", "")),
            max_restart=_int(data.get("max_restart"), default=1) or 0,
            max_relocate=_int(data.get("max_relocate"), default=1) or 0,
            failback=_flag(data.get("failback", 1)),
            comment=str(data.get("comment", "")),
        )


@dataclass(frozen=True)
class HARule:
    """A PVE 9 HA rule: ``node-affinity`` (resources on nodes) or ``resource-affinity``."""

    rule: str
    type: str
    nodes: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    affinity: str = ""
    strict: bool = False
    disabled: bool = False
    comment: str = field(default="", compare=False)

    @classmethod
    def from_api(cls, data: Any) -> HARule:
        return cls(
            rule=str(_require(data, "rule", "HA rule")),
            type=str(data.get("type", "")),
            resources=_list(data.get("resources")),
            nodes=_list(data.get("nodes")),
            strict=_flag(data.get("strict")),
            affinity=str(data.get("affinity", "")),
            disabled=_flag(data.get("disable")),
            comment=str(data.get("comment", "")),
        )


@dataclass(frozen=True)
class HAGroup:
    """A PVE 8 HA group: the nodes (``node[:priority]``) its resources may run on."""

    group: str
    nodes: tuple[str, ...] = ()
    restricted: bool = False
    nofailback: bool = False
    comment: str = field(default="", compare=False)

    @classmethod
    def from_api(cls, data: Any) -> HAGroup:
        return cls(
            group=str(_require(data, "group", "HA group")),
            nodes=_list(data.get("nodes")),
            restricted=_flag(data.get("restricted")),
            nofailback=_flag(data.get("nofailback")),
            comment=str(data.get("comment", "")),
        )


@dataclass(frozen=True)
class Acl:
    """One ACL entry: ``roleid`` granted to a user, group or token on ``path``."""

    path: str
    ugid: str
    ugid_type: str  # user | group | token
    roleid: str
    propagate: bool = True

    @classmethod
    def from_api(cls, data: Any) -> Acl:
        return cls(
            path=str(_require(data, "path", "ACL")),
            ugid=str(_require(data, "ugid", "ACL")),
            ugid_type=str(data.get("type", "user")),
            roleid=str(_require(data, "roleid", "ACL")),
            propagate=_flag(data.get("propagate", 1)),
        )
