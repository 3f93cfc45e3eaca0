"""The plain-data contract of the sync: load remote -> load local -> diff -> apply.

Everything here is a frozen dataclass of plain values (no ORM instances, no clients),
so the diff is a pure function testable without a database or a network.

``RemoteState`` (built by ``inventory.sync.remote``, one per cluster and cycle)
    What one cycle read from a cluster. It reuses the gateway's typed results
    (``inventory.proxmox.types``: ``NodeEntry``, ``StorageEntry``, ``GuestEntry``,
    ``Snapshot``, ``Volume``, ``Task``; ``inventory.proxmox.clusterconf`` for backup
    jobs, HA resources/rules/groups and ACL entries, named ``*Facts`` here) and adds
    ``ConfigFacts`` (a parsed config) and ``StorageRef``.

    Completeness is the rule that protects data: **a part that failed, was not read,
    or cannot be trusted is ``None``** (for tuples) or **absent** (for the per-guest and
    per-storage mappings). The diff never creates "gone" facts from a ``None`` part:

    - ``nodes``/``storages``/``pools``/``guests`` come from the one ``/cluster/resources``
      read; all four are ``None`` when that read failed.
    - ``configs`` holds only the configs read this cycle (keyed by vmid); a guest not in
      it keeps its stored config. ``snapshots`` likewise (a vmid present with ``()``
      means "read, and it has no snapshots").
    - ``absent`` holds, for each live guest Steward knows that ``guests`` does not list,
      the verdict of a direct read of it on its last known node (``Absence``): PVE
      silently drops from ``/cluster/resources`` the guests a token may not see, so
      absence from the list alone proves nothing. Only ``Absence.GONE`` ("does not
      exist") lets the diff mark a guest gone.
    - ``volumes`` holds the content of each storage read this cycle, keyed by
      ``StorageRef``; a storage that failed is absent, so its copies stay open.
    - ``tasks``, ``backup_jobs``, ``ha_resources``, ``ha_rules``, ``ha_groups``, ``acl``:
      ``None`` when not read or failed (PVE 8 has no HA rules, PVE 9 no HA groups: the
      loader reads what the version has and leaves the other ``None``).
    - ``errors`` explains every ``None``/absent part in words an operator can act on;
      a state with errors makes the run ``partial``.

    The loader is called as ``load_remote(gateway, *, local: LocalState, full, now,
    progress)``: ``local`` tells it which configs to re-read (new guests; guests whose
    node, status, lock or tags changed or that a new task names; configs missing or
    read more than an hour ago; all of them when ``full``).

    Duplicates are allowed in ``guests`` (PVE may list a vmid on two nodes during a
    migration); the diff resolves them.

``LocalState`` (built by ``inventory.sync.local``)
    What Steward holds for one cluster, as tuples of ``Local*`` rows keyed for lookup:
    live guests by vmid, open ledger rows, known tasks. Only what the diff needs.

``Changeset`` (built by ``inventory.sync.diff``, applied by ``inventory.sync.apply``)
    Every write one cycle needs, already decided: rows to create, fields to update
    (only those that changed: an unchanged estate gives an empty changeset), rows to
    mark gone, ledger rows to open and close, audit events. A guest is referred to by
    ``GuestRef``: its row id when it exists, else its vmid (a guest created in the same
    changeset; live vmids are unique per cluster). Guest field mappings name the node
    by name (``"node": "pve1"``); apply resolves names to rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from inventory.proxmox.clusterconf import Acl as AclFacts
from inventory.proxmox.clusterconf import BackupJob as BackupJobFacts
from inventory.proxmox.clusterconf import HAGroup as HAGroupFacts
from inventory.proxmox.clusterconf import HAResource as HAResourceFacts
from inventory.proxmox.clusterconf import HARule as HARuleFacts
from inventory.proxmox.types import (
    GuestEntry,
    NodeEntry,
    Snapshot,
    StorageEntry,
    Task,
    Volume,
)

__all__ = [
    "Absence",
    "AclFacts",
    "BackupJobFacts",
    "Changeset",
    "ConfigFacts",
    "CopyClose",
    "CopyOpen",
    "DeviceFacts",
    "DiskFacts",
    "Event",
    "GuestEntry",
    "GuestNew",
    "GuestRef",
    "GuestUpdate",
    "HAGroupFacts",
    "HAResourceFacts",
    "HARuleFacts",
    "LineageAdd",
    "LocalCopy",
    "LocalGuest",
    "LocalNode",
    "LocalState",
    "LocalStorage",
    "LocalStorageStatus",
    "LocalTask",
    "NicFacts",
    "NodeEntry",
    "RemoteState",
    "ResidencyClose",
    "ResidencyOpen",
    "RollbackAdd",
    "RowChange",
    "Snapshot",
    "StorageEntry",
    "StorageRef",
    "Task",
    "Volume",
]


# ---- parsed config facts (produced by inventory.parsing) ---------------------------------


@dataclass(frozen=True)
class NicFacts:
    """A network interface: ``key`` is ``net0``...; ``mac`` upper-case ``AA:BB:...``."""

    key: str
    mac: str
    model: str = ""
    bridge: str = ""


@dataclass(frozen=True)
class DiskFacts:
    """A disk, mount point, unused volume or CD-ROM drive of a config.

    ``storage`` is the storage id of ``volume`` (``""`` for ``none``, a physical
    ``cdrom`` or a host path); ``media`` is what a CD-ROM holds (``none``, an iso
    volid, ``cdrom``). ``size`` in bytes (0 when the config does not say).
    """

    key: str
    storage: str
    volume: str
    size: int = 0
    is_cdrom: bool = False
    media: str = ""


@dataclass(frozen=True)
class DeviceFacts:
    """A passthrough or removable-media device; ``kind`` is usb/pci/serial/parallel/cdrom."""

    key: str
    kind: str
    value: str


@dataclass(frozen=True)
class ConfigFacts:
    """One guest config as read this cycle, raw and parsed.

    ``values`` is the raw key -> string config (without ``digest``), stored as-is.
    """

    vmid: int
    digest: str
    read_at: datetime
    values: Mapping[str, str] = field(hash=False)
    vmgenid: str = ""
    smbios_uuid: str = ""
    ostype: str = ""
    agent_enabled: bool = False
    has_rng: bool = False
    nics: tuple[NicFacts, ...] = ()
    disks: tuple[DiskFacts, ...] = ()
    devices: tuple[DeviceFacts, ...] = ()

    @property
    def storage_names(self) -> tuple[str, ...]:
        """Storages holding this guest's data (CD-ROM media excluded), sorted."""
        return tuple(sorted({d.storage for d in self.disks if d.storage and not d.is_cdrom}))


# ---- cluster-level objects --------------------------------------------------------------


@dataclass(frozen=True)
class StorageRef:
    """Where a storage content listing came from: ``node`` is ``""`` for shared storage
    (one listing serves every node), else the node whose local storage was listed."""

    storage: str
    node: str = ""


class Absence(StrEnum):
    """What a direct read says about a known guest missing from ``/cluster/resources``."""

    GONE = "gone"  # the node answered that it does not exist
    DENIED = "denied"  # 403: the token lost its rights on it
    UNKNOWN = "unknown"  # its node is offline, it moved away, or the read failed


@dataclass(frozen=True)
class RemoteState:
    """What one cycle read from one cluster; ``None``/absent parts are incomplete (see module)."""

    read_at: datetime
    version: str | None = None
    nodes: tuple[NodeEntry, ...] | None = None
    storages: tuple[StorageEntry, ...] | None = None
    pools: tuple[str, ...] | None = None
    guests: tuple[GuestEntry, ...] | None = None
    configs: Mapping[int, ConfigFacts] = field(default_factory=dict, hash=False)
    snapshots: Mapping[int, tuple[Snapshot, ...]] = field(default_factory=dict, hash=False)
    volumes: Mapping[StorageRef, tuple[Volume, ...]] = field(default_factory=dict, hash=False)
    absent: Mapping[int, Absence] = field(default_factory=dict, hash=False)
    tasks: tuple[Task, ...] | None = None
    backup_jobs: tuple[BackupJobFacts, ...] | None = None
    ha_resources: tuple[HAResourceFacts, ...] | None = None
    ha_rules: tuple[HARuleFacts, ...] | None = None
    ha_groups: tuple[HAGroupFacts, ...] | None = None
    acl: tuple[AclFacts, ...] | None = None
    errors: tuple[str, ...] = ()
    # API calls made for this state, per endpoint template (for SyncRun.stats).
    calls: Mapping[str, int] = field(default_factory=dict, hash=False)

    @property
    def resources_complete(self) -> bool:
        """Whether ``/cluster/resources`` was read (nodes, storages, pools, guests)."""
        return self.guests is not None and self.nodes is not None

    @property
    def complete(self) -> bool:
        """Whether every part was read without error."""
        return not self.errors and self.resources_complete and self.tasks is not None


# ---- local state (built by inventory.sync.local) ----------------------------------------


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


# ---- the changeset (built by inventory.sync.diff) ---------------------------------------


@dataclass(frozen=True)
class GuestRef:
    """A guest by row id, or by vmid when it is created in the same changeset."""

    vmid: int
    id: int | None = None


@dataclass(frozen=True)
class RowChange:
    """Fields to set on an existing row (only those that changed)."""

    id: int
    fields: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True)
class GuestNew:
    """A guest row to create (``GuestRef(vmid)`` refers to it within the changeset)."""

    vmid: int
    fields: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True)
class GuestUpdate:
    """Fields to set on an existing guest; ``facts`` (when set) replace its nics/disks/devices."""

    id: int
    vmid: int
    fields: Mapping[str, Any] = field(hash=False)
    facts: ConfigFacts | None = None


@dataclass(frozen=True)
class ResidencyOpen:
    guest: GuestRef
    node: str
    started_at: datetime
    cause: str
    task_upid: str = ""
    storage_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResidencyClose:
    id: int
    ended_at: datetime


@dataclass(frozen=True)
class CopyOpen:
    """A copy to record; ``guest`` is None when its source guest is unknown."""

    guest: GuestRef | None
    source_vmid: int
    kind: str
    name: str
    created_at: datetime
    storage: str = ""
    node: str = ""
    size: int = 0
    vmstate: bool = False
    parent: str = ""
    task_upid: str = ""


@dataclass(frozen=True)
class CopyClose:
    id: int
    deleted_at: datetime


@dataclass(frozen=True)
class LineageAdd:
    parent: GuestRef
    child: GuestRef
    kind: str
    detected_at: datetime
    task_upid: str = ""


@dataclass(frozen=True)
class RollbackAdd:
    guest: GuestRef
    detected_at: datetime
    source: str
    snapshot_name: str = ""
    task_upid: str = ""
    old_vmgenid: str = ""
    new_vmgenid: str = ""


@dataclass(frozen=True)
class Event:
    """An audit event (``inventory.<action>``) about a guest (or the cluster when None)."""

    action: str
    guest: GuestRef | None = None
    before: Mapping[str, Any] | None = field(default=None, hash=False)
    after: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass
class Changeset:
    """Every write one cycle needs. Empty (``not changeset``) when nothing changed.

    Mutable while the diff builds it; apply only reads it. Creation lists carry the
    model field values; ``*_gone`` lists carry row ids to stamp ``gone_since``;
    ``*_delete`` lists carry row ids of mirrored objects that no longer exist.
    """

    now: datetime
    nodes_create: list[dict[str, Any]] = field(default_factory=list)
    nodes_update: list[RowChange] = field(default_factory=list)
    storages_create: list[dict[str, Any]] = field(default_factory=list)
    storages_update: list[RowChange] = field(default_factory=list)
    # (storage name, node name, fields) for statuses without a row yet.
    storage_statuses_create: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    storage_statuses_update: list[RowChange] = field(default_factory=list)
    pools_create: list[str] = field(default_factory=list)
    pools_delete: list[int] = field(default_factory=list)
    guests_create: list[GuestNew] = field(default_factory=list)
    guests_update: list[GuestUpdate] = field(default_factory=list)
    guests_gone: list[int] = field(default_factory=list)
    # Parsed facts of guests created in this changeset, by vmid.
    new_guest_facts: dict[int, ConfigFacts] = field(default_factory=dict)
    residencies_open: list[ResidencyOpen] = field(default_factory=list)
    residencies_close: list[ResidencyClose] = field(default_factory=list)
    copies_open: list[CopyOpen] = field(default_factory=list)
    copies_close: list[CopyClose] = field(default_factory=list)
    lineage_add: list[LineageAdd] = field(default_factory=list)
    rollbacks_add: list[RollbackAdd] = field(default_factory=list)
    tasks_create: list[dict[str, Any]] = field(default_factory=list)
    tasks_update: list[RowChange] = field(default_factory=list)
    # Mirrored cluster objects: model name -> rows to create / change / delete.
    mirror_create: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mirror_update: dict[str, list[RowChange]] = field(default_factory=dict)
    mirror_delete: dict[str, list[int]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    # Data problems that did not stop the cycle (duplicate vmids, suspicious empty lists).
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(
            getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("now", "events", "warnings", "stats")
        )

    @property
    def changes_content(self) -> bool:
        """Whether it changes anything a page shows: every write except the rolling
        re-read's new config ages (which a steady-state cycle always has)."""
        ages_only = all(set(u.fields) == {"config_read_at"} for u in self.guests_update)
        others = (
            getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("now", "warnings", "stats", "guests_update")
        )
        return not ages_only or any(others)
