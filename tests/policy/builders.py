"""Plain facts for pure evaluator tests: no database, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from policy.facts import ClusterFacts, FleetFacts, VmFacts
from policy.rules import PolicySpec

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def vm(vm_id: int = 1, **fields: Any) -> VmFacts:
    values: dict[str, Any] = {
        "id": vm_id,
        "cluster_id": 1,
        "vmid": 100 + vm_id,
        "name": f"vm-{vm_id}",
        "kind": "qemu",
        "node": "node1",
        "status": "running",
        "tags": frozenset(),
        "pool": "",
        "template": False,
        "lock": "",
        "hastate": "",
        "classification": "internal",
        "vmgenid": "c0ffee00-0000-4000-8000-000000000001",
        "smbios_uuid": "",
        "has_rng": True,
        "config_digest": "digest-1",
        "first_seen": NOW - timedelta(days=100),
        "last_running": NOW - timedelta(days=1),
    }
    values.update(fields)
    return VmFacts(**values)


def cluster(cluster_id: int = 1, **fields: Any) -> ClusterFacts:
    values: dict[str, Any] = {
        "id": cluster_id,
        "name": f"pve-{cluster_id}",
        "pve_version": "9.1.1",
        "token_id": "steward@pve!sync",
        "nodes": {"node1": "online", "node2": "online", "node3": "online"},
        "storage_class": {"local-lvm": "approved", "iso": "approved", "usb-disk": "removable"},
        "backup_jobs": (),
        "ha_resources": {},
        "ha_rules": (),
        "ha_groups": {},
        "acl_entries": (),
        "backed_acls": frozenset(),
    }
    values.update(fields)
    return ClusterFacts(**values)


def fleet(*vms: VmFacts, clusters: tuple[ClusterFacts, ...] = (), **fields: Any) -> FleetFacts:
    values: dict[str, Any] = {
        "read_at": NOW,
        "vms": tuple(vms),
        "clusters": {c.id: c for c in (clusters or (cluster(),))},
        "identity_clashes": {},
        "usernames": {},
        "team_slugs": {},
        "quarantines": {},
        "open_keys": {},
    }
    values.update(fields)
    return FleetFacts(**values)


def spec(kind: str, parameters: dict[str, Any] | None = None, **fields: Any) -> PolicySpec:
    values: dict[str, Any] = {
        "id": 7,
        "name": f"{kind}-policy",
        "kind": kind,
        "mode": "enforce",
        "scope": {"clusters": ["pve-1"]},
        "parameters": parameters or {},
    }
    values.update(fields)
    return PolicySpec(**values)
