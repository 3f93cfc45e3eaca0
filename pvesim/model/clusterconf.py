"""Cluster-wide configuration: pools, HA (resources, groups, rules), firewall security
groups and vzdump backup jobs. Each maps to one section-config file in ``/etc/pve``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Pool:
    """A resource pool. Guest membership lives on ``Guest.pool`` (one pool per guest)."""

    poolid: str
    comment: str = ""
    storage: list[str] = field(default_factory=list)


USER_ALLOW = ("none", "list", "existing", "free")


@dataclass(slots=True)
class TagPolicy:
    """``datacenter.cfg`` ``user-tag-access`` and ``registered-tags`` (PVE 7.3+); the
    defaults are PVE's: anyone with VM.Config.Options may set any tag, none is registered."""

    user_allow: str = "free"
    user_allow_list: list[str] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    """Privileged tags: setting or removing them needs Sys.Modify on ``/``."""


@dataclass(slots=True)
class HAResource:
    """``resources.cfg`` entry plus the CRM's view (``crm_state``) of the service."""

    sid: str
    state: str = "started"
    max_restart: int = 1
    max_relocate: int = 1
    failback: int = 1
    group: str | None = None
    comment: str | None = None
    crm_state: str = "started"

    @property
    def type(self) -> str:
        return self.sid.split(":", 1)[0]

    @property
    def vmid(self) -> int:
        return int(self.sid.split(":", 1)[1])

    def section(self) -> dict[str, str]:
        values = {
            "state": self.state,
            "max_restart": str(self.max_restart),
            "max_relocate": str(self.max_relocate),
            "failback": str(self.failback),
        }
        if self.group:
            values["group"] = self.group
        if self.comment:
            values["comment"] = self.comment
        return values


@dataclass(slots=True)
class HAGroup:
    """PVE 8 HA group: ``nodes`` is ``node[:prio],...``."""

    group: str
    nodes: str
    restricted: int = 0
    nofailback: int = 0
    comment: str | None = None

    def section(self) -> dict[str, str]:
        values = {"nodes": self.nodes}
        if self.restricted:
            values["restricted"] = "1"
        if self.nofailback:
            values["nofailback"] = "1"
        if self.comment:
            values["comment"] = self.comment
        return values


@dataclass(slots=True)
class HARule:
    """PVE 9 HA rule (``node-affinity`` or ``resource-affinity``)."""

    rule: str
    type: str
    resources: str
    nodes: str | None = None
    strict: int = 0
    affinity: str | None = None
    disable: int = 0
    comment: str | None = None

    def section(self) -> dict[str, str]:
        values = {"resources": self.resources}
        if self.nodes is not None:
            values["nodes"] = self.nodes
        if self.strict:
            values["strict"] = "1"
        if self.affinity:
            values["affinity"] = self.affinity
        if self.disable:
            values["disable"] = "1"
        if self.comment:
            values["comment"] = self.comment
        return values

    def resource_ids(self) -> list[str]:
        return [sid for sid in self.resources.split(",") if sid]

    def node_priorities(self) -> dict[str, int]:
        """``pve1:2,pve2`` -> ``{"pve1": 2, "pve2": 0}``."""
        return parse_node_priorities(self.nodes or "")


def parse_node_priorities(text: str) -> dict[str, int]:
    result: dict[str, int] = {}
    for item in text.split(","):
        if not item:
            continue
        name, _, prio = item.partition(":")
        result[name] = int(prio) if prio else 0
    return result


@dataclass(slots=True)
class SecurityGroup:
    """Cluster firewall security group (``[group <name>]`` in ``cluster.fw``)."""

    group: str
    comment: str = ""
    rules: list[dict[str, Any]] = field(default_factory=list)
