"""Typed views of what Steward reads right before it writes: migration preconditions,
firewall options and rules (with the digest that guards their update), roles and users.

Same contract as :mod:`inventory.proxmox.types`: ``from_api`` accepts PVE's scalar quirks
and raises ``ProxmoxInvalidResponse`` when an identifying field is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inventory.proxmox.clusterconf import _list
from inventory.proxmox.errors import ProxmoxInvalidResponse
from inventory.proxmox.types import _flag, _int, _require


@dataclass(frozen=True)
class MigrationCheck:
    """``GET .../migrate``: where the guest may go now and what blocks the other nodes.

    ``blocked`` maps a node to a short reason per blocker kind (``unavailable_storages``,
    ``unavailable-resources``, ``blocking-ha-resources``), as PVE keys them.
    """

    running: bool
    allowed_nodes: tuple[str, ...]
    blocked: dict[str, tuple[str, ...]] = field(hash=False)
    local_disks: tuple[str, ...] = ()
    local_resources: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, data: Any) -> MigrationCheck:
        if not isinstance(data, dict):
            raise ProxmoxInvalidResponse("migration preconditions must be an object")
        # qemu uses underscores, LXC (PVE 9) dashes.
        allowed = data.get("allowed_nodes", data.get("allowed-nodes")) or []
        not_allowed = data.get("not_allowed_nodes", data.get("not-allowed-nodes")) or {}
        blocked = {
            str(node): tuple(sorted(str(k) for k in (why or {})))
            for node, why in (not_allowed.items() if isinstance(not_allowed, dict) else ())
        }
        return cls(
            running=_flag(data.get("running")),
            allowed_nodes=tuple(str(n) for n in allowed),
            blocked=blocked,
            local_disks=tuple(str(d.get("volid", "")) for d in data.get("local_disks") or [] if d),
            local_resources=tuple(str(r) for r in data.get("local_resources") or []),
        )


@dataclass(frozen=True)
class FirewallOptions:
    """A guest's firewall options (``enable``, ``policy_in``...) and their file's digest."""

    digest: str
    enabled: bool
    policy_in: str = ""
    policy_out: str = ""
    values: dict[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def from_api(cls, data: Any) -> FirewallOptions:
        if not isinstance(data, dict):
            raise ProxmoxInvalidResponse("firewall options must be an object")
        values = {str(k): str(v) for k, v in data.items() if k != "digest"}
        return cls(
            digest=str(data.get("digest", "")),
            enabled=_flag(data.get("enable")),
            policy_in=str(data.get("policy_in", "")),
            policy_out=str(data.get("policy_out", "")),
            values=values,
        )


@dataclass(frozen=True)
class FirewallRule:
    """One firewall rule (of a guest or a security group); ``pos`` is its place in the list.

    A ``type="group"`` rule applies the security group named by ``action``.
    """

    type: str
    action: str
    pos: int = -1
    enabled: bool = True
    macro: str = ""
    proto: str = ""
    source: str = ""
    dest: str = ""
    dport: str = ""
    sport: str = ""
    comment: str = ""
    digest: str = field(default="", compare=False)

    @classmethod
    def from_api(cls, data: Any) -> FirewallRule:
        return cls(
            type=str(_require(data, "type", "firewall rule")),
            action=str(_require(data, "action", "firewall rule")),
            pos=_int(data.get("pos"), default=-1) or 0,
            enabled=_flag(data.get("enable", 1)),
            macro=str(data.get("macro", "")),
            proto=str(data.get("proto", "")),
            source=str(data.get("source", "")),
            dest=str(data.get("dest", "")),
            dport=str(data.get("dport", "")),
            sport=str(data.get("sport", "")),
            comment=str(data.get("comment", "")),
            digest=str(data.get("digest", "")),
        )

    def as_params(self) -> dict[str, Any]:
        """The create/update parameters for this rule (empty fields left out)."""
        params: dict[str, Any] = {
            "type": self.type,
            "action": self.action,
            "enable": int(self.enabled),
        }
        for key in ("macro", "proto", "source", "dest", "dport", "sport", "comment"):
            if value := getattr(self, key):
                params[key] = value
        return params

    def same_rule(self, other: FirewallRule) -> bool:
        """Equal in what the rule does (position, digest and comment aside)."""
        mine, theirs = self.as_params(), other.as_params()
        mine.pop("comment", None)
        theirs.pop("comment", None)
        return mine == theirs


@dataclass(frozen=True)
class SecurityGroup:
    """A cluster firewall security group and the digest of the groups file."""

    group: str
    comment: str = ""
    digest: str = field(default="", compare=False)

    @classmethod
    def from_api(cls, data: Any) -> SecurityGroup:
        return cls(
            group=str(_require(data, "group", "security group")),
            comment=str(data.get("comment", "")),
            digest=str(data.get("digest", "")),
        )


@dataclass(frozen=True)
class Role:
    """An access role and its privileges; ``special`` marks PVE's built-in roles."""

    roleid: str
    privs: frozenset[str]
    special: bool = False

    @classmethod
    def from_api(cls, data: Any) -> Role:
        return cls(
            roleid=str(_require(data, "roleid", "role")),
            privs=frozenset(_list(data.get("privs"))),
            special=_flag(data.get("special")),
        )


@dataclass(frozen=True)
class User:
    """A Proxmox user (``name@realm``)."""

    userid: str
    enabled: bool = True
    comment: str = ""

    @classmethod
    def from_api(cls, data: Any) -> User:
        return cls(
            userid=str(_require(data, "userid", "user")),
            enabled=_flag(data.get("enable", 1)),
            comment=str(data.get("comment", "")),
        )
