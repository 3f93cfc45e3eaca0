"""What evaluation produces: findings, and the actions enforce mode would take on them.

Stable interface shared by the rules, the services, the executors and the pages.

``Finding`` is one thing one policy found wrong: on one VM (``vm_id`` set) or on a
cluster as a whole (``vm_id`` None, e.g. an ACL on ``/``). ``rule_key`` names the
finding within its policy and VM so one policy can report several (``usb0``,
``snapshot:before-upgrade``, ``node``) and so the same problem keeps the same key from
one evaluation to the next: the violation ledger is keyed on
``(policy, vm or cluster, rule_key)``. ``evidence`` is JSON-able (strings, numbers,
lists, dicts; datetimes as ISO strings). ``remedies`` are the actions enforce mode would
take, in order; empty when nothing can be done through Proxmox (the violation is then
only reported). ``exempt`` findings are covered by an exemption: reported as waived,
never remediated.

``Action`` is one remediation step in plain data, turned into a ``Remediation`` row by
the reconciler and executed by ``policy.remediation``. Its ``params`` by kind
(``ActionKind`` values; every key always present):

- ``remove_device``: ``key`` (``usb0``), ``line`` (the config value), ``digest``
  (config digest the finding was made from: the executor passes it to PVE).
- ``detach_media``: ``key`` (``ide2``), ``line``, ``digest`` -> ``<key>: none,media=cdrom``.
- ``set_config``: ``key``, ``value``, ``digest`` (``vmgenid: 1``, ``rng0: source=...``).
- ``migrate``: ``target`` (node name), ``online`` (bool: the guest is running).
- ``ha_pin``: ``sid`` (``vm:100``), ``nodes`` (allowed node names, sorted): an HA
  node-affinity rule on PVE 9, a restricted HA group on PVE 8.
- ``backup_exclude``: ``job_id``.
- ``snapshot_delete``: ``snapshot``.
- ``backup_delete``: ``volid``, ``storage``, ``node`` ("" on shared storage).
- ``deletion_request``: ``volid``, ``storage``, ``node``, ``reason``.
- ``quarantine_apply``: ``cause`` (``QuarantineCause`` value), ``reason``.
- ``quarantine_lift``: ``quarantine_id``.
- ``stop``: ``reason``.
- ``acl_delete``: ``path``, ``ugid``, ``ugid_type`` (``user``, ``group``, ``token``),
  ``roleid``, ``propagate`` (bool).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policy.models import ActionKind

__all__ = ["Action", "ActionKind", "Finding"]


@dataclass(frozen=True, slots=True)
class Action:
    """One remediation step: ``kind`` applied to a guest (``vmid`` on ``node``) or a cluster.

    ``params`` follow the table in this module's docstring; treat them as read-only.
    """

    kind: str
    cluster_id: int
    vm_id: int | None
    vmid: int | None
    node: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    description: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cluster_id": self.cluster_id,
            "vm_id": self.vm_id,
            "vmid": self.vmid,
            "node": self.node,
            "params": dict(self.params),
            "description": self.description,
        }


@dataclass(slots=True)
class Finding:
    """One thing one policy found wrong on one VM (or one cluster); see the module docstring.

    Not frozen only so that evaluation can attach ``remedies`` and ``exempt`` to the
    findings it just made without copying them (copies were most of its time); treat a
    finding you receive as read-only.

    ``mode`` is the policy's mode when evaluated; only ``enforce`` findings that are not
    ``exempt`` have their ``remedies`` executed.
    """

    policy_id: int
    policy_name: str
    policy_kind: str
    mode: str
    cluster_id: int
    vm_id: int | None
    vmid: int | None
    rule_key: str
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    remedies: tuple[Action, ...] = ()
    exempt: bool = False

    @property
    def identity(self) -> tuple[int, int, int | None, str]:
        """The violation ledger's key: (policy, cluster, vm or None, rule_key)."""
        return (self.policy_id, self.cluster_id, self.vm_id, self.rule_key)

    @property
    def enforced(self) -> bool:
        """Whether enforce mode acts on this finding (enforce mode, not exempt, a remedy)."""
        return self.mode == "enforce" and not self.exempt and bool(self.remedies)
