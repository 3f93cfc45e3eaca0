"""What Steward holds for one cluster, as the sync's diff needs it: ``LocalState`` and its rows.

Built by :mod:`inventory.sync.local`; see :mod:`inventory.sync.state` for the whole contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from inventory.proxmox.clusterconf import Acl as AclFacts
from inventory.proxmox.clusterconf import BackupJob as BackupJobFacts
from inventory.proxmox.clusterconf import HAGroup as HAGroupFacts
from inventory.proxmox.clusterconf import HAResource as HAResourceFacts
from inventory.proxmox.clusterconf import HARule as HARuleFacts


@dataclass(frozen=True)
class LocalNode:
    id: int
    name: str
    status: str
    maxcpu: int
    maxmem: int
    gone: bool


@dataclass(frozen=True)
class LocalStorage:
    id: int
    name: str
    plugintype: str
    shared: bool
    content: tuple[str, ...]
    storage_class: str
    gone: bool


@dataclass(frozen=True)
class LocalStorageStatus:
    id: int
    storage: str
    node: str
    status: str
    disk: int
    maxdisk: int


@dataclass(frozen=True)
class LocalGuest:
    """A live guest row; ``storage_names`` from its stored disks, ``residency_*`` its open
    residency (``residency_id`` None when it has none)."""

    id: int
    vmid: int
    kind: str
    name: str
    node: str
    status: str
    tags: tuple[str, ...]
    pool: str
    template: bool
    lock: str
    hastate: str
    maxcpu: int
    maxmem: int
    maxdisk: int
    config_digest: str
    config_read_at: datetime | None
    vmgenid: str
    smbios_uuid: str
    last_running: datetime | None
    storage_names: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    residency_id: int | None = None
    residency_node: str = ""


@dataclass(frozen=True)
class LocalCopy:
    """An open copy-ledger row; ``node`` is ``""`` unless it sits on a node-local storage."""

    id: int
    kind: str
    source_vmid: int
    name: str
    storage: str
    node: str
    vm_id: int | None


@dataclass(frozen=True)
class LocalTask:
    id: int
    upid: str
    status: str
    finished: bool


@dataclass(frozen=True)
class LocalState:
    """Steward's view of one cluster, keyed for the diff.

    ``guests`` holds live guests only (one per vmid by the partial unique constraint);
    ``tasks`` only the tasks whose UPID the remote listed this cycle (the history
    grows without bound, so it is never loaded whole). The cluster-level mappings
    map a natural key to ``(row id, comparable values)``.
    """

    cluster_id: int
    nodes: Mapping[str, LocalNode] = field(default_factory=dict, hash=False)
    storages: Mapping[str, LocalStorage] = field(default_factory=dict, hash=False)
    storage_statuses: Mapping[tuple[str, str], LocalStorageStatus] = field(
        default_factory=dict, hash=False
    )
    pools: Mapping[str, int] = field(default_factory=dict, hash=False)
    guests: Mapping[int, LocalGuest] = field(default_factory=dict, hash=False)
    copies: Mapping[tuple[str, int, str, str], LocalCopy] = field(default_factory=dict, hash=False)
    tasks: Mapping[str, LocalTask] = field(default_factory=dict, hash=False)
    backup_jobs: Mapping[str, tuple[int, BackupJobFacts]] = field(default_factory=dict, hash=False)
    ha_resources: Mapping[str, tuple[int, HAResourceFacts]] = field(
        default_factory=dict, hash=False
    )
    ha_rules: Mapping[str, tuple[int, HARuleFacts]] = field(default_factory=dict, hash=False)
    ha_groups: Mapping[str, tuple[int, HAGroupFacts]] = field(default_factory=dict, hash=False)
    acl: Mapping[tuple[str, str, str], tuple[int, AclFacts]] = field(
        default_factory=dict, hash=False
    )
