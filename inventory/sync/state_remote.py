"""What one sync cycle read from a cluster: ``RemoteState`` and the parsed config facts.

Completeness rules and the loader's contract are described in :mod:`inventory.sync.state`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

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

    ``values`` is the raw key -> string config in effect (without ``digest`` and without
    pending changes), stored as-is; the parsed facts come from it. ``pending`` holds the
    changes waiting for the next cold start (key -> new value, None for a removal).
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
    pending: Mapping[str, str | None] = field(default_factory=dict, hash=False)

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
